"""The simulated telco: deterministic, complete, honest about its dirt, and its truth file is true."""

import csv
import gzip
import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from telco_dw.simulate.world import SimConfig, generate

START = date(2026, 10, 20)  # the window crosses a month boundary
CFG = SimConfig(customers=400, days=20, start=START, seed=3, dirty_rate=0.01)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outbox")
    generate(out, CFG)
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_arguments_give_byte_identical_sources(outbox, tmp_path):
    generate(tmp_path / "again", CFG)
    generate(tmp_path / "other", SimConfig(customers=400, days=20, start=START, seed=4, dirty_rate=0.01))
    assert _digest(tmp_path / "again") == _digest(outbox)
    assert _digest(tmp_path / "other") != _digest(outbox)


def test_all_four_sources_and_the_truth_are_written(outbox):
    manifest = json.loads((outbox / "manifest.json").read_text())
    files = manifest["files"]
    for prefix in ("crm/customers/", "crm/subscriptions/", "crm/tickets/", "crm/export/customers_export.csv",
                   "crm/export/mapping.yml", "billing/", "network/cell_kpi/", "network/subscriber_experience/",
                   "survey/"):  # fmt: skip
        assert any(name.startswith(prefix) or f"/{prefix}" in name for name in files), prefix
    for name, meta in files.items():
        data = (outbox / name).read_bytes() if (outbox / name).exists() else (outbox / "_late" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
    assert any("hour=23" in n and n.endswith(".csv.gz") for n in files)
    truth = json.loads((outbox / "truth.json").read_text())
    assert set(truth["months"]) == {"2026-10", "2026-11"}


def test_dirty_rates_are_honoured_and_counted(outbox):
    manifest = json.loads((outbox / "manifest.json").read_text())
    clean = sum(f["clean_rows"] for f in manifest["files"].values())
    row_kinds = ("malformed", "out_of_range", "null_required", "duplicate", "orphan", "bad_encoding")
    dirty_rows = sum(manifest["dirty_totals"].get(k, 0) for k in row_kinds)
    assert 0.5 * CFG.dirty_rate < dirty_rows / clean < 1.5 * CFG.dirty_rate + 0.002
    for kind in ("malformed", "out_of_range", "null_required", "duplicate", "late", "schema_drift", "orphan"):
        assert manifest["dirty_totals"].get(kind, 0) > 0, kind


def test_clean_outbox_has_no_dirt(tmp_path):
    manifest = generate(tmp_path, SimConfig(customers=50, days=3, dirty_rate=0))
    assert manifest.totals() == {}
    assert not (tmp_path / "_late").exists()


def test_network_files_carry_the_declared_columns(outbox):
    path = next((outbox / "network/cell_kpi").rglob("*.csv.gz"))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:4] == ["cell_id", "region", "technology", "hour_start"]
    table = pq.read_table(next((outbox / "network/subscriber_experience").rglob("*.parquet")))
    assert table.column_names == [
        "usage_date", "msisdn", "imsi", "imei", "serving_cell_id", "volume_mb", "avg_dl_mbps", "avg_rsrp_dbm",
    ]  # fmt: skip


def test_poor_coverage_lowers_nps(outbox):
    """Cause and effect: customers whose cell has poor coverage answer NPS lower."""
    cells: dict[str, list[float]] = defaultdict(list)
    for path in (outbox / "network/cell_kpi").rglob("*.csv.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    cells[row["cell_id"]].append(float(row["rsrp_dbm"]))
                except (KeyError, TypeError, ValueError):
                    pass
    poor_cells = {c for c, values in cells.items() if sum(values) / len(values) <= -105}
    home: dict[str, str] = {}
    for path in (outbox / "network/subscriber_experience").rglob("*.parquet"):
        for rec in pq.read_table(path).to_pylist():
            home.setdefault(rec["msisdn"], rec["serving_cell_id"])
    scores = {True: [], False: []}
    for rec in _clean_responses(outbox):
        if rec["type"] == "nps" and rec["msisdn"] in home:
            scores[home[rec["msisdn"]] in poor_cells].append(rec["score"])
    assert scores[True] and scores[False]
    assert sum(scores[True]) / len(scores[True]) < sum(scores[False]) / len(scores[False]) - 0.5


# --- recomputing the truth from the emitted sources, with the cleaning a correct pipeline applies ---


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _latest(outbox: Path, entity: str, key: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for path in sorted((outbox / "crm" / entity).rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get(key) and (rec[key] not in latest or rec["updated_at"] >= latest[rec[key]]["updated_at"]):
                latest[rec[key]] = rec
    return latest


def _customers(outbox: Path) -> set[str]:
    return {
        cid
        for cid, rec in _latest(outbox, "customers", "customer_id").items()
        if rec["province"] and (rec["birth_date"] or "") <= rec["updated_at"][:10]
    }


def _clean_responses(outbox: Path) -> list[dict]:
    customers = _customers(outbox)
    seen: dict[str, dict] = {}
    for base in (outbox, outbox / "_late"):
        for path in sorted((base / "survey").rglob("*.jsonl")) if (base / "survey").exists() else []:
            for raw in path.read_bytes().splitlines():
                try:
                    line = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    continue
                r = line["response"]
                answer = r["answers"][0]
                if not 0 <= answer["score"] <= answer["scale_max"]:
                    continue
                if r["respondent"]["customer_id"] not in customers:
                    continue
                seen[r["response_id"]] = {
                    "type": r["survey"]["type"],
                    "score": answer["score"],
                    "month": r["submitted_at"][:7],
                    "msisdn": r["respondent"]["msisdn"],
                }
    return list(seen.values())


def _recompute(outbox: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    months = sorted({(START + timedelta(days=d)).strftime("%Y-%m") for d in range(CFG.days)})
    responses = _clean_responses(outbox)
    for month in months:
        nps = [r["score"] for r in responses if r["type"] == "nps" and r["month"] == month]
        csat = [r["score"] for r in responses if r["type"] == "csat" and r["month"] == month]
        out[month]["nps"] = round(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 4)
        out[month]["csat"] = round(100 * sum(s >= 9 for s in csat) / len(csat), 4)
    customers = _customers(outbox)
    subs = [s for s in _latest(outbox, "subscriptions", "subscription_id").values() if s["customer_id"] in customers]
    window_end = datetime.combine(START + timedelta(days=CFG.days), datetime.min.time(), tzinfo=UTC)
    for month in months:
        first = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        start = max(first, datetime.combine(START, datetime.min.time(), tzinfo=UTC))
        active = [
            s
            for s in subs
            if _ts(s["activated_at"]) < start and (not s["deactivated_at"] or _ts(s["deactivated_at"]) >= start)
        ]
        lost = [s for s in subs if s["deactivated_at"] and _ts(s["deactivated_at"]).strftime("%Y-%m") == month]
        out[month]["churn_rate"] = round(len(lost) / len(active), 6)
        days = [start + timedelta(days=d) for d in range(40)]
        days = [d for d in days if d.strftime("%Y-%m") == month and d < window_end]
        subscriber_days = sum(
            1 for d in days for s in subs
            if _ts(s["activated_at"]) < d and (not s["deactivated_at"] or _ts(s["deactivated_at"]) >= d)
        )  # fmt: skip
        revenue = Decimal("0")
        invoices: dict[str, dict] = {}
        for path in sorted((outbox / "billing").rglob("invoices.csv")):
            with path.open(encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    if Decimal(row["amount_excl_tax"]) >= 0:
                        invoices[row["invoice_id"]] = row
        revenue = sum(
            (Decimal(r["amount_excl_tax"]) for r in invoices.values() if r["billing_month"][:7] == month), Decimal("0")
        )
        out[month]["arpu"] = round(float(revenue) / (subscriber_days / len(days)), 4)
    tickets = [t for t in _latest(outbox, "tickets", "ticket_id").values() if t["customer_id"] in customers]
    for month in months:
        mine = [t for t in tickets if t["created_at"][:7] == month]
        met24 = [
            t
            for t in mine
            if t["first_response_at"] and _ts(t["first_response_at"]) - _ts(t["created_at"]) <= timedelta(hours=24)
        ]
        met48 = [
            t for t in mine if t["resolved_at"] and _ts(t["resolved_at"]) - _ts(t["created_at"]) <= timedelta(hours=48)
        ]
        out[month]["sla_24h_response_rate"] = round(len(met24) / len(mine), 6)
        out[month]["sla_48h_resolution_rate"] = round(len(met48) / len(mine), 6)
    return out


def test_truth_agrees_with_a_recomputation_from_the_emitted_sources(outbox):
    truth = json.loads((outbox / "truth.json").read_text())["months"]
    recomputed = _recompute(outbox)
    for month, metrics in recomputed.items():
        for name, value in metrics.items():
            assert truth[month][name] == pytest.approx(value, abs=1e-4), (month, name)


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_customer_truth_arpu_and_churn_by_hand():
    """3-month ARPU = revenue of the window's months / subscriber-months (days in service at 00:00 UTC
    / the month's days up to the last simulated day), rounded half up to 4 places."""
    from telco_dw.simulate.truth import CustomerFacts, CustomerTruth

    truth = CustomerTruth(date(2026, 11, 9))
    assert [m.isoformat() for m in truth.month_starts] == ["2026-11-01", "2026-10-01", "2026-09-01"]
    truth.add_revenue(date(2026, 10, 15), 0, Decimal("59.00"))  # a sign-up's first bill is dated the sign-up day
    truth.add_revenue(date(2026, 11, 1), 0, Decimal("59.00"))
    truth.add_revenue(date(2026, 8, 1), 1, Decimal("99.00"))  # outside the window
    truth.add_revenue(date(2026, 9, 1), 1, Decimal("99.00"))
    truth.add_revenue(date(2026, 10, 1), 1, Decimal("99.00"))
    rows = list(
        truth.rows(
            [
                CustomerFacts("C1", 0, _epoch("2026-10-15T10:00:00+00:00"), 0, None),
                CustomerFacts(
                    "C2", 1, _epoch("2020-01-01T00:00:00+00:00"), _epoch("2026-10-10T12:00:00+00:00"), "voluntary"
                ),
                CustomerFacts("C3", 2, _epoch("2026-11-09T10:00:00+00:00"), 0, None),
            ]
        )
    )
    assert rows == [
        # in service from 2026-10-16: 16/31 of October + all 9 observed days of November; 118 x 31 / 47
        ("C1", "", "", "118.00", "77.8298"),
        # all of September, 1-10 October (in service at 00:00 of the churn day): 198 x 31 / 41
        ("C2", "2026-10-10T12:00:00+00:00", "voluntary", "198.00", "149.7073"),
        ("C3", "", "", "0.00", ""),  # signed up on the last day: no day in service
    ]

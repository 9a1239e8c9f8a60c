"""A small, deterministic synthetic telco: customers, their subscriptions, bills, network and surveys.

This is the walking skeleton's generator: it writes each source as daily CSV extracts under
``<out>/<source>/<table>/dt=YYYY-MM-DD/<table>.csv`` with the columns declared in
``telco_dw.sources.<source>.schema``. CRM and billing files are change extracts (day 0 holds the
opening state, later days hold new and changed records); network and survey files hold the facts of
their day. The same arguments always produce byte-identical files.
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from telco_dw import sources
from telco_dw.simulate import identities as ids

log = logging.getLogger(__name__)

PLANS = (  # code, name, monthly fee (CNY, tax excluded), contract months
    ("P19", "畅享19元套餐", Decimal("19.00"), 0),
    ("P59", "畅享59元套餐", Decimal("59.00"), 12),
    ("P99", "5G畅享99元套餐", Decimal("99.00"), 24),
    ("P199", "5G尊享199元套餐", Decimal("199.00"), 24),
)
TICKET_CHANNELS = ("hotline", "app", "store", "web")
TICKET_CATEGORIES = ("network", "billing", "service", "product")
COMMENTS = (
    "信号不太好，地下室经常没网",
    "客服态度很好，问题很快解决了",
    "Bill was higher than expected this month",
    "5G speed is great in the city centre",
    "",
    "",
)


@dataclass
class WorldSummary:
    """What :func:`generate` wrote: files and rows per ``raw`` table, and the customers it made."""

    out: Path
    customers: int
    days: int
    files: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Writer:
    """Appends rows to the per-day CSV file of each table, creating files with a header on first use."""

    def __init__(self, out: Path, summary: WorldSummary) -> None:
        self.out = out
        self.summary = summary
        self.columns = {(t.source, t.name): t.column_names for s in sources.SOURCES for t in sources.tables(s)}
        self.rows: dict[tuple[str, str, date], list[list[str]]] = defaultdict(list)

    def add(self, source: str, table: str, day: date, record: dict[str, Any]) -> None:
        cols = self.columns[(source, table)]
        self.rows[(source, table, day)].append([_fmt(record.get(c)) for c in cols])

    def flush(self) -> None:
        for (source, table, day), rows in sorted(self.rows.items()):
            path = self.out / source / table / f"dt={day.isoformat()}" / f"{table}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(self.columns[(source, table)])
                writer.writerows(rows)
            self.summary.files += 1
            self.summary.rows[f"raw_{source}.{table}"] += len(rows)
        self.rows.clear()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """A binomial draw (normal approximation, clipped to 0..n); Python 3.11 has no binomialvariate."""
    mean = n * p
    return max(0, min(n, round(rng.gauss(mean, (mean * (1 - p)) ** 0.5))))


def _at(day: date, rng: random.Random, start_hour: int = 8, end_hour: int = 22) -> datetime:
    seconds = rng.randrange(start_hour * 3600, end_hour * 3600)
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=seconds)


def _month_start(day: date, back: int = 0) -> date:
    year, month = day.year, day.month - back
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


def generate(
    out: Path, customers: int = 200, days: int = 7, start: date = date(2026, 10, 1), seed: int = 42
) -> WorldSummary:
    """Write all four sources for ``customers`` customers over ``days`` days from ``start``.

    Guarantees: deterministic for the same arguments; every customer appears in the CRM day-0
    extract with at least one subscription and one billing account; files for a day are complete
    when the function returns (existing files for those days are overwritten, others left alone).
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    rng = random.Random(seed)
    summary = WorldSummary(out=out, customers=customers, days=days)
    writer = _Writer(out, summary)
    day0 = start
    cells = [
        (f"CELL{i:05d}", rng.choice(ids.PROVINCES)[0], "5G" if rng.random() < 0.4 else "4G", rng.gauss(-92, 9))
        for i in range(max(10, customers // 20))
    ]
    people = []
    for n in range(customers):
        cid = f"C{n + 1:07d}"
        province, city = rng.choice(ids.PROVINCES)
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        gender = rng.choice("MF")
        signed = datetime.combine(day0, time(), tzinfo=UTC) - timedelta(days=rng.randrange(1, 365 * 6))
        plan = rng.choices(PLANS, weights=(2, 4, 3, 1))[0]
        msisdn = ids.mobile(rng)
        home_cell = rng.choice(cells)
        person: dict[str, Any] = {
            "customer_id": cid,
            "full_name": ids.chinese_name(rng, gender),
            "gender": gender,
            "birth_date": birth,
            "id_card_no": ids.id_card(rng, birth, gender),
            "mobile": msisdn,
            "email": ids.email(rng),
            "province": province,
            "city": city,
            "address": ids.address(rng, province, city),
            "created_at": signed,
            "updated_at": signed,
        }
        writer.add("crm", "customers", day0, person)
        sub: dict[str, Any] = {
            "subscription_id": f"S{n + 1:07d}",
            "customer_id": cid,
            "msisdn": msisdn,
            "plan_code": plan[0],
            "plan_name": plan[1],
            "monthly_fee": plan[2],
            "contract_months": plan[3],
            "status": "active",
            "activated_at": signed,
            "deactivated_at": None,
            "churn_type": None,
            "updated_at": signed,
        }
        writer.add("crm", "subscriptions", day0, sub)
        account: dict[str, Any] = {
            "account_id": f"A{n + 1:07d}",
            "customer_id": cid,
            "pay_method": rng.choice(("alipay", "wechat", "bank_card", "cash")),
            "bank_card_no": ids.bank_card(rng),
            "opened_at": signed,
            "updated_at": signed,
        }
        writer.add("billing", "accounts", day0, account)
        for back in (3, 2, 1):
            month = _month_start(day0, back)
            if datetime.combine(month, time(), tzinfo=UTC) < signed:
                continue
            inv_id = f"I{n + 1:07d}{month:%Y%m}"
            issued = datetime.combine(_month_start(day0, back - 1), time(2), tzinfo=UTC)
            amount = plan[2] + Decimal(rng.randrange(0, 3000)) / 100
            writer.add(
                "billing",
                "invoices",
                day0,
                {
                    "invoice_id": inv_id,
                    "account_id": account["account_id"],
                    "billing_month": month,
                    "amount_excl_tax": amount,
                    "tax_amount": (amount * Decimal("0.06")).quantize(Decimal("0.01")),
                    "issued_at": issued,
                    "due_date": issued.date() + timedelta(days=15),
                    "updated_at": issued,
                },
            )
            status = rng.choices(("settled", "late", "failed"), weights=(90, 7, 3))[0]
            paid = issued + timedelta(days=rng.randrange(1, 14) + (20 if status == "late" else 0))
            writer.add(
                "billing",
                "payments",
                day0,
                {
                    "payment_id": f"Y{inv_id[1:]}",
                    "invoice_id": inv_id,
                    "amount": (amount * Decimal("1.06")).quantize(Decimal("0.01")),
                    "paid_at": None if status == "failed" else paid,
                    "status": status,
                    "updated_at": min(paid, datetime.combine(day0, time(), tzinfo=UTC)),
                },
            )
        people.append((person, sub, home_cell))

    ticket_seq = 0
    response_seq = 0
    for offset in range(days):
        day = day0 + timedelta(days=offset)
        for cell_id, region, tech, base_rsrp in cells:
            for hour in range(24):
                attempts = rng.randrange(50, 400)
                setups = attempts - _binomial(rng, attempts, 0.012)
                writer.add(
                    "network",
                    "cell_kpi_hourly",
                    day,
                    {
                        "cell_id": cell_id,
                        "region": region,
                        "technology": tech,
                        "hour_start": datetime.combine(day, time(hour), tzinfo=UTC),
                        "rsrp_dbm": round(max(-140.0, min(-44.0, rng.gauss(base_rsrp, 4))), 1),
                        "rsrq_db": round(max(-19.5, min(-3.0, rng.gauss(-10, 2.5))), 1),
                        "sinr_db": round(max(-23.0, min(40.0, rng.gauss(14, 6))), 1),
                        "dl_mbps": round(rng.uniform(150, 500) if tech == "5G" else rng.uniform(20, 80), 2),
                        "ul_mbps": round(rng.uniform(20, 80) if tech == "5G" else rng.uniform(5, 20), 2),
                        "latency_ms": round(rng.uniform(15, 60), 1),
                        "call_attempts": attempts,
                        "call_setups": setups,
                        "call_drops": _binomial(rng, setups, 0.008),
                    },
                )
        for person, sub, (cell_id, _region, tech, base_rsrp) in people:
            if sub["status"] != "active":
                continue
            writer.add(
                "network",
                "subscriber_experience_daily",
                day,
                {
                    "usage_date": day,
                    "msisdn": sub["msisdn"],
                    "imsi": ids.imsi(rng, sub["msisdn"]),
                    "imei": ids.imei(rng),
                    "serving_cell_id": cell_id,
                    "volume_mb": round(rng.lognormvariate(6, 1), 2),
                    "avg_dl_mbps": round(rng.uniform(100, 400) if tech == "5G" else rng.uniform(10, 60), 2),
                    "avg_rsrp_dbm": round(max(-140.0, min(-44.0, rng.gauss(base_rsrp, 5))), 1),
                },
            )
            poor = base_rsrp <= -105
            if rng.random() < (0.03 if poor else 0.01):
                ticket_seq += 1
                created = _at(day, rng)
                response = created + timedelta(hours=rng.expovariate(1 / 10))
                resolved = response + timedelta(hours=rng.expovariate(1 / 20))
                ticket = {
                    "ticket_id": f"T{ticket_seq:08d}",
                    "customer_id": person["customer_id"],
                    "channel": rng.choice(TICKET_CHANNELS),
                    "category": "network" if poor else rng.choice(TICKET_CATEGORIES),
                    "created_at": created,
                    "first_response_at": response,
                    "resolved_at": resolved,
                    "contact_count": 1 if rng.random() < 0.7 else rng.randrange(2, 5),
                    "status": "resolved",
                    "updated_at": resolved,
                }
                writer.add("crm", "tickets", day, ticket)
                response_seq += 1
                writer.add("survey", "responses", day, _response(rng, response_seq, person, sub, day, "csat", ticket))
            if rng.random() < 0.02:
                response_seq += 1
                writer.add(
                    "survey", "responses", day, _response(rng, response_seq, person, sub, day, "nps", None, poor)
                )
            if offset > 0 and rng.random() < 0.002:
                churned_at = _at(day, rng)
                sub.update(
                    status="churned",
                    deactivated_at=churned_at,
                    updated_at=churned_at,
                    churn_type=rng.choices(("voluntary", "involuntary"), weights=(3, 1))[0],
                )
                writer.add("crm", "subscriptions", day, dict(sub))
    writer.flush()
    log.info("generated %d customers x %d days into %s (%d files)", customers, days, out, summary.files)
    return summary


def _response(
    rng: random.Random,
    seq: int,
    person: dict[str, Any],
    sub: dict[str, Any],
    day: date,
    kind: str,
    ticket: dict[str, Any] | None,
    poor: bool = False,
) -> dict[str, Any]:
    if kind == "nps":
        score = max(0, min(10, round(rng.gauss(6.5 if poor else 8.0, 2))))
        scale = 10
        touchpoint = "relationship"
    else:
        slow = ticket is not None and (ticket["resolved_at"] - ticket["created_at"]) > timedelta(hours=48)
        score = max(1, min(10, round(rng.gauss(6.0 if slow else 8.5, 1.8))))
        scale = 10
        touchpoint = "complaint"
    return {
        "response_id": f"R{seq:08d}",
        "customer_id": person["customer_id"],
        "msisdn": sub["msisdn"],
        "survey_type": kind,
        "touchpoint": touchpoint,
        "ticket_id": ticket["ticket_id"] if ticket else None,
        "submitted_at": _at(day, rng, 9, 23),
        "score": score,
        "scale_max": scale,
        "comment": rng.choice(COMMENTS),
    }


def iter_files(out: Path) -> Iterable[Path]:
    """Every CSV file the generator wrote under ``out``, in a stable order."""
    return sorted(out.rglob("*.csv"))

"""Landing files: one batch per file, bad rows quarantined with a reason, redeliveries skipped,
late files picked up later, schema drift reported (additive) or refused (breaking)."""

import gzip
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from telco_dw.errors import UserError
from telco_dw.load.landing import Endpoints, land_source
from telco_dw.simulate.deliver import deliver
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration

START = date(2026, 10, 1)
DAYS = 4
END = START + timedelta(days=DAYS)
WORLD = SimConfig(customers=120, days=DAYS, start=START, seed=21, dirty_rate=0.02)


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("outbox")
    generate(out, WORLD)
    return out


@pytest.fixture
def landing(warehouse, outbox, tmp_path):
    """An empty landing folder and emptied file-source tables; yields (conn, landing url, outbox)."""
    with connect(warehouse, autocommit=True) as conn:
        _reset(conn)
        yield conn, str(tmp_path / "landing"), outbox
        _reset(conn)


def _reset(conn):
    conn.execute("truncate raw_network.cell_kpi_hourly, raw_network.subscriber_experience_daily, raw_survey.responses")
    conn.execute("truncate quarantine.network, quarantine.survey")
    conn.execute("delete from audit.load_batches where source in ('network', 'survey')")


def _ledger(conn, source):
    return conn.execute(
        "select count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_landed), 0), "
        "coalesce(sum(rows_quarantined), 0) from audit.load_batches where source = %s",
        (source,),
    ).fetchone()


def _land(conn, url, source, end=END):
    return land_source(conn, source, Endpoints(landing_url=url), end)


def test_every_row_is_landed_or_quarantined_with_a_reason(landing):
    conn, url, outbox = landing
    deliver(outbox, url, END)
    for source in ("network", "survey"):
        _land(conn, url, source)
        batches, read, landed, quarantined = _ledger(conn, source)
        assert batches > 0 and read == landed + quarantined
        raw = sum(
            conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in (["raw_network.cell_kpi_hourly", "raw_network.subscriber_experience_daily"] if source == "network"
                      else ["raw_survey.responses"])
        )  # fmt: skip
        held = conn.execute(f"select count(*), count(*) filter (where reason = '') from quarantine.{source}").fetchone()
        assert (raw, held) == (landed, (quarantined, 0))
    reasons = " | ".join(
        r for (r,) in conn.execute("select reason from quarantine.network union select reason from quarantine.survey")
    )
    dirt = json.loads((outbox / "manifest.json").read_text())["dirty"]
    injected = {
        k: sum(n for f, n in files.items() if f.startswith(("network/", "survey/"))) for k, files in dirt.items()
    }
    for kind, expected in (
        ("malformed", "malformed"),
        ("out_of_range", "out of range"),
        ("null_required", "required value missing"),
        ("bad_encoding", "not UTF-8"),
    ):
        if injected.get(kind):
            assert expected in reasons, expected


def test_quarantine_matches_the_injected_dirt(landing):
    conn, url, outbox = landing
    manifest = json.loads((outbox / "manifest.json").read_text())
    deliver(outbox, url, END)
    _land(conn, url, "survey")
    delivered = {b for (b,) in conn.execute("select source_file from audit.load_batches where source = 'survey'")}
    originals = [f.replace("-redelivered.jsonl", ".jsonl") for f in delivered]  # a redelivery repeats its dirt
    expected = sum(
        manifest["dirty"].get(kind, {}).get(f, 0)
        for kind in ("malformed", "out_of_range", "bad_encoding")
        for f in originals
    )
    assert conn.execute("select count(*) from quarantine.survey").fetchone()[0] == expected


def test_rerun_and_redelivery_land_nothing_twice(landing):
    conn, url, outbox = landing
    deliver(outbox, url, END)
    _land(conn, url, "network")
    before = _ledger(conn, "network")
    again = _land(conn, url, "network")
    assert {r.status for r in again} == {"skipped"}
    path = next(p for p in (outbox / "network/cell_kpi").rglob("*.csv.gz"))
    target = f"{url}/{path.relative_to(outbox).as_posix()}"
    shutil.copy(path, target)  # the same file delivered again: new mtime, same content
    _land(conn, url, "network")
    assert _ledger(conn, "network") == before


def test_concurrent_runs_land_each_file_once(landing, warehouse):
    """Two runs over the same files at once (overlapping backfill runs): no error, nothing twice."""
    conn, url, outbox = landing
    deliver(outbox, url, END)
    _land(conn, url, "survey")
    alone = _ledger(conn, "survey")
    _reset(conn)

    def run(_):
        with connect(warehouse, autocommit=True) as own:
            return sorted(r.status for r in _land(own, url, "survey"))

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(run, range(2)))
    assert _ledger(conn, "survey") == alone
    landed = conn.execute("select count(*), count(distinct (_source_file, _row_number)) from raw_survey.responses")
    assert len(set(landed.fetchone())) == 1  # no row twice
    assert sorted(statuses[0] + statuses[1]).count("landed") == alone[0]  # each file landed by one run only


def test_a_late_file_is_picked_up_by_a_later_run(landing):
    conn, url, outbox = landing
    manifest = json.loads((outbox / "manifest.json").read_text())
    late = {rel: due for rel, due in manifest["late_files"].items() if rel.startswith(("network", "survey"))}
    assert late, "the world should have late files at this dirt rate"
    rel, due = sorted(late.items())[0]
    deliver(outbox, url, date.fromisoformat(due))  # before the late file is due
    source = rel.split("/")[0]
    _land(conn, url, source, date.fromisoformat(due))
    assert rel not in {b for (b,) in conn.execute("select source_file from audit.load_batches")}
    deliver(outbox, url, date.fromisoformat(due) + timedelta(days=1))
    _land(conn, url, source, date.fromisoformat(due) + timedelta(days=1))
    assert rel in {b for (b,) in conn.execute("select source_file from audit.load_batches")}


def test_additive_drift_lands_and_is_reported(landing):
    conn, url, outbox = landing
    deliver(outbox, url, END)
    results = _land(conn, url, "network")
    drifted = [r for r in results if r.notes.get("extra_columns")]
    assert drifted and all(r.notes["extra_columns"] == ["pci"] and r.rows_landed > 0 for r in drifted)
    notes = conn.execute("select notes from audit.load_batches where notes ? 'extra_columns' limit 1").fetchone()[0]
    assert notes == {"extra_columns": ["pci"]}


def test_breaking_drift_fails_the_file_naming_column_and_file(landing):
    conn, url, outbox = landing
    deliver(outbox, url, END)
    path = sorted((__import__("pathlib").Path(url) / "network/cell_kpi").rglob("*.csv.gz"))[0]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text.replace("latency_ms", "latency", 1))
    with pytest.raises(UserError) as err:
        _land(conn, url, "network")
    message = str(err.value)
    assert "latency_ms" in message and "latency" in message and path.name in message and "schema drift" in message
    rel = path.relative_to(url).as_posix()
    assert conn.execute("select count(*) from audit.load_batches where source_file = %s", (rel,)).fetchone()[0] == 0


def test_missing_landing_folder_says_what_to_do(warehouse, tmp_path):
    with connect(warehouse, autocommit=True) as conn, pytest.raises(UserError, match="telco-dw sources serve"):
        _land(conn, str(tmp_path / "nowhere"), "network")


def test_a_landing_leaves_fresh_planner_statistics(landing):
    """The transform starts right after a landing: the raw tables it got rows into are analyzed by then
    (the planner must not see them as empty), and those it got none into are left alone."""
    conn, url, outbox = landing
    deliver(outbox, url, END)

    def analyzed() -> dict[str, tuple[int, object]]:
        return {
            f"{schema}.{table}": (count, last)
            for schema, table, count, last in conn.execute(
                "select schemaname, relname, analyze_count + autoanalyze_count, last_analyze from pg_stat_user_tables "
                "where schemaname in ('raw_network', 'raw_survey')"
            )
        }

    conn.execute("select pg_stat_clear_snapshot()")
    before = analyzed()
    results = _land(conn, url, "network")
    conn.execute("select pg_stat_clear_snapshot()")
    after = analyzed()
    landed = {r.table for r in results if r.rows_landed}
    assert landed == {"raw_network.cell_kpi_hourly", "raw_network.subscriber_experience_daily"}
    assert {t for t in after if after[t][1] != before[t][1]} == landed
    stats = conn.execute(
        "select reltuples from pg_class where oid = 'raw_network.subscriber_experience_daily'::regclass"
    ).fetchone()[0]
    assert stats == conn.execute("select count(*) from raw_network.subscriber_experience_daily").fetchone()[0]

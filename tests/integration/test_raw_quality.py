"""The raw suites on the batches one run landed: a clean landing passes, a row that slipped past the
loader's rules fails critically naming the check, duplicates and a volume spike are warnings, and
rows of other batches are not judged."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest

from telco_dw.load.landing import Endpoints, land_source
from telco_dw.quality import failure_message, get_suite, run_suite
from telco_dw.simulate.deliver import deliver
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.warehouse.connection import connect, warehouse_url

pytestmark = pytest.mark.integration

START = date(2026, 10, 1)
END = START + timedelta(days=3)
TABLE = "raw_network.cell_kpi_hourly"


@pytest.fixture(scope="module")
def landed(warehouse, tmp_path_factory):
    """The network files of a clean 3-day world landed; (url, {table: batch ids})."""
    outbox = tmp_path_factory.mktemp("rawq_outbox")
    generate(outbox, SimConfig(customers=80, days=3, start=START, seed=12, dirty_rate=0))
    landing = tmp_path_factory.mktemp("rawq_landing")
    deliver(outbox, str(landing), END)
    with connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "truncate raw_network.cell_kpi_hourly, raw_network.subscriber_experience_daily, quarantine.network"
        )
        conn.execute("delete from audit.load_batches where source = 'network'")
        results = land_source(conn, "network", Endpoints(str(landing)), END)
    ids: dict[str, list[str]] = {}
    for r in results:
        if r.status == "landed":
            ids.setdefault(r.table, []).append(r.batch_id)
    yield warehouse_url(warehouse), ids
    with connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "truncate raw_network.cell_kpi_hourly, raw_network.subscriber_experience_daily, quarantine.network"
        )
        conn.execute("delete from audit.load_batches where source = 'network'")


def _run(url, table, ids):
    name = "raw." + table.removeprefix("raw_")
    return run_suite(url, get_suite(name).for_batches(ids), f"test_raw_quality/{uuid.uuid4().hex[:8]}")


def test_a_clean_landing_passes_every_raw_check(landed):
    url, ids = landed
    for table, batch_ids in ids.items():
        outcome = _run(url, table, batch_ids)
        assert outcome.passed and not outcome.warnings, failure_message(outcome)
        with psycopg.connect(url) as conn:  # one evidence row per expectation
            stored = conn.execute(
                "select count(*) from audit.dq_results where run_id = %s and suite = %s",
                (outcome.run_id, outcome.suite),
            ).fetchone()[0]
        assert stored == len(outcome.results) >= 8


def test_a_row_that_slipped_past_the_loader_fails_critically_only_in_its_batch(landed):
    url, ids = landed
    batch = ids[TABLE][-1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(  # as a loader bug would land it: RSRP out of range, an hour in the future
            f"insert into {TABLE} (cell_id, region, technology, hour_start, rsrp_dbm, _batch_id, _loaded_at, "
            "_source_file, _row_number) values ('C_BAD', 'north', 'LTE', now() + interval '3 days', -20, %s, now(), "
            "'probe', 999999)",
            (batch,),
        )
    try:
        outcome = _run(url, TABLE, [batch])
        failed = {r.expectation for r in outcome.critical_failures}
        assert not outcome.passed
        assert any("rsrp_dbm between -156 and -31" in e for e in failed), failed
        assert any("hour_start is not in the future" in e for e in failed), failed
        message = failure_message(outcome)
        assert "raw.network.cell_kpi_hourly" in message and "C_BAD" not in message
        other = [b for b in ids[TABLE] if b != batch]
        assert _run(url, TABLE, other).passed  # the other batches are not judged by this row
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"delete from {TABLE} where cell_id = 'C_BAD'")


def test_duplicates_and_a_volume_spike_are_warnings(landed):
    url, ids = landed
    batch = ids[TABLE][-1]
    with psycopg.connect(url, autocommit=True) as conn:
        landed_rows = conn.execute("select count(*) from raw_network.cell_kpi_hourly where _batch_id = %s", (batch,))
        before = landed_rows.fetchone()[0]
        for _ in range(6):  # the batch now holds each row 7 times: duplicates, and 7x the usual volume
            conn.execute(f"insert into {TABLE} select * from {TABLE} where _batch_id = %s and _row_number <= %s",
                         (batch, before))  # fmt: skip
        conn.execute("update audit.load_batches set rows_landed = rows_landed * 7, rows_read = rows_read * 7 "
                     "where batch_id = %s", (batch,))  # fmt: skip
    try:
        outcome = _run(url, TABLE, [batch])
        warned = {r.expectation for r in outcome.warnings}
        assert outcome.passed, failure_message(outcome)  # warnings never block
        assert any("compound_columns_to_be_unique" in w for w in warned), warned
        assert any("median of the table's previous batches" in w for w in warned), warned
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"delete from {TABLE} where _batch_id = %s and ctid not in (select min(ctid) from {TABLE} "
                         "where _batch_id = %s group by _row_number)", (batch, batch))  # fmt: skip
            conn.execute("update audit.load_batches set rows_landed = rows_landed / 7, rows_read = rows_read / 7 "
                         "where batch_id = %s", (batch,))  # fmt: skip

"""`make up` starts a working Airflow (api-server, scheduler, dag-processor, triggerer); `airflow backfill
create` lands a date range through it, each file once; `make down` stops it."""

import dataclasses
import time
from datetime import date, timedelta

import pytest
from stacklib import free_port, health, healthy, settled

from telco_dw import orchestrate
from telco_dw.load import ddl
from telco_dw.simulate.deliver import deliver
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.e2e

START = date(2026, 10, 1)
DAYS = 6


@pytest.fixture(scope="module")
def stack(airflow_env, tmp_path_factory):
    """The stack on a free port (not 8080: a developer's own `make up` may hold it), with its own empty
    landing folder; stopped at the end whatever happened."""
    cfg = dataclasses.replace(
        airflow_env, airflow_api_port=free_port(), landing=str(tmp_path_factory.mktemp("stack") / "landing")
    )
    # The scheduler would also start the transform runs that earlier sessions' asset events queued:
    # 43 Cosmos task processes, minutes of CPU beside the backfill, and nothing here checks them.
    with connect(cfg, "airflow", autocommit=True) as meta:
        paused = meta.execute(
            "update dag set is_paused = true where dag_id = 'transform' and not is_paused returning dag_id"
        ).fetchall()
    pids = orchestrate.up(cfg)
    try:
        yield cfg, pids
    finally:
        orchestrate.down(cfg)
        if paused:
            with connect(cfg, "airflow", autocommit=True) as meta:
                meta.execute("update dag set is_paused = false where dag_id = 'transform'")


def test_up_serves_a_healthy_stack(stack):
    cfg, pids = stack
    assert set(pids) == set(orchestrate.COMPONENTS)
    answer = healthy(cfg.airflow_api_port, 180)
    assert answer is not None, "the api-server never answered"
    assert {k: v["status"] for k, v in answer.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    assert orchestrate.up(cfg) == pids  # idempotent: nothing started twice


def test_backfill_lands_a_date_range_each_file_once(stack):
    cfg, _ = stack
    with connect(cfg, autocommit=True) as conn:
        with conn.transaction():
            ddl.ensure_all(conn)
        conn.execute("truncate raw_survey.responses, quarantine.survey")
        conn.execute("delete from audit.load_batches where source = 'survey'")
        conn.execute("delete from audit.task_failures")
    # the run the scheduler makes for the latest interval lands nothing: the landing folder is empty
    settled(cfg, "ingest_survey", 240, want=lambda runs: any(r["run_id"].startswith("scheduled__") for r in runs))
    outbox = cfg.airflow_home.parent / "stack-outbox"
    generate(outbox, SimConfig(customers=600, days=DAYS, start=START, seed=8, dirty_rate=0))
    deliver(outbox, cfg.landing, START + timedelta(days=DAYS))

    with connect(cfg, "airflow", autocommit=True) as meta:  # one backfill per DAG: close any an interrupted
        meta.execute(  # earlier session left open in this test database (never a user's)
            "update backfill set completed_at = now() where dag_id = 'ingest_survey' and completed_at is null"
        )
    command = ["backfill", "create", "--dag-id", "ingest_survey", "--from-date", "2026-10-02", "--to-date"]
    # --reprocess-behavior completed: runs an earlier session left for these dates run again, too
    orchestrate.airflow(cfg, [*command, "2026-10-04", "--reprocess-behavior", "completed"])
    runs = settled(cfg, "ingest_survey", 300)
    with connect(cfg, "airflow") as meta:  # the scheduler closes the backfill once its runs are done
        deadline = time.monotonic() + 60
        while meta.execute(
            "select count(*) from backfill where dag_id = 'ingest_survey' and completed_at is null"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the scheduler never completed the backfill"
            meta.rollback()
            time.sleep(2)

    states = {r["logical_date"][:10]: r["state"] for r in runs if r["run_id"].startswith("backfill__")}
    assert states == {"2026-10-02": "success", "2026-10-03": "success", "2026-10-04": "success"}
    with connect(cfg) as conn:
        landed = conn.execute(
            "select substring(source_file from 'dt=([0-9-]+)'), count(*) from audit.load_batches "
            "where source = 'survey' group by 1 order by 1"
        ).fetchall()
        rows = conn.execute("select count(*), count(distinct (_source_file, _row_number)) from raw_survey.responses")
        total, distinct = rows.fetchone()
        failures = conn.execute(  # other DAGs' scheduled runs share this stack: only the backfill counts
            "select task_id, run_id, try_number, error from audit.task_failures "
            "where dag_id = 'ingest_survey' and run_id like 'backfill%'"
        ).fetchall()
    # "@daily" is a cron trigger in Airflow 3: the run at 10-04 lands the days before 10-04, each file once
    assert landed == [(f"2026-10-0{d}", 1) for d in range(1, 4)]
    assert total == distinct > 0
    assert failures == []  # the three runs overlapped, and no attempt failed


def test_down_stops_everything(stack):
    cfg, _ = stack
    assert set(orchestrate.down(cfg)) == set(orchestrate.COMPONENTS)
    assert health(cfg.airflow_api_port) is None

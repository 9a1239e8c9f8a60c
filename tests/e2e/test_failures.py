"""A failed ingest task says which batch it failed on: the failure callback records the attempt in
``audit.task_failures`` and alerts ``ALERT_TARGETS`` (a real Airflow run of the real DAG, a real
breaking-drift file, a real webhook on this machine)."""

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from telco_dw import orchestrate
from telco_dw.load import ddl
from telco_dw.simulate.deliver import deliver
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.e2e

START = date(2026, 10, 1)
DAYS = 3


def test_a_failed_ingest_task_is_recorded_and_alerted_naming_its_batch(airflow_env, tmp_path, monkeypatch, webhook):
    cfg = dataclasses.replace(airflow_env, landing=str(tmp_path / "landing"))
    outbox = tmp_path / "outbox"
    # one day's cell-KPI files rename latency_ms: breaking drift, which fails the batch by design
    generate(
        outbox,
        SimConfig(customers=40, days=DAYS, start=START, seed=2, dirty_rate=0.01, dirty_kinds=("renamed_column",)),
    )
    deliver(outbox, cfg.landing, START + timedelta(days=DAYS))
    with connect(cfg, autocommit=True) as conn:
        with conn.transaction():
            ddl.ensure_all(conn)
        conn.execute("delete from audit.task_failures")
    monkeypatch.setenv("TASK_RETRIES", "0")  # fail at once instead of retrying for minutes
    monkeypatch.setenv("ALERT_TARGETS", webhook.url)

    logical = datetime.combine(START + timedelta(days=DAYS), time(), tzinfo=UTC)
    [result] = orchestrate.run_dags(cfg, ["ingest_network"], logical)

    assert not result.ok
    with connect(cfg) as conn:
        rows = conn.execute(
            "select dag_id, task_id, run_id, will_retry, source_ref, error, interval_end from audit.task_failures"
        ).fetchall()
    assert len(rows) == 1, rows
    dag_id, task_id, run_id, will_retry, source_ref, error, interval_end = rows[0]
    assert (dag_id, task_id, run_id, will_retry) == ("ingest_network", "land", result.run_id, False)
    assert re.fullmatch(r"network/cell_kpi/dt=2026-10-03/hour=\d\d/cell_kpi\.csv\.gz", source_ref), source_ref
    assert "latency_ms" in error and source_ref in error
    assert interval_end == logical  # a manual run at D covers the day before D
    [alert] = [a["alert"] for a in webhook.received]  # the last attempt is alerted, naming the batch
    assert (alert["dag_id"], alert["task_id"], alert["run_id"]) == ("ingest_network", "land", result.run_id)
    assert alert["source_ref"] == source_ref and "latency_ms" in alert["error"]

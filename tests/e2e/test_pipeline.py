"""End to end through real Airflow runs: four ingest DAGs, then transform (dbt + GX), twice."""

import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from telco_dw import orchestrate, sources
from telco_dw.load import ddl
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.sources import serve
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.e2e

CUSTOMERS = 150
DAYS = 6
START = date(2026, 10, 1)


def _table_counts(conn) -> dict[str, int]:
    names = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('raw_crm', 'raw_billing', 'raw_network', 'raw_survey', 'audit', 'marts') "
        "and table_type = 'BASE TABLE' and table_name <> 'dq_results' order by 1"
    ).fetchall()
    return {name: conn.execute(f"select count(*) from {name}").fetchone()[0] for (name,) in names}


def _run_pipeline(cfg) -> None:
    logical = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)
    results = orchestrate.run_dags(cfg, orchestrate.PIPELINE_DAGS, logical)
    assert [r.dag_id for r in results] == list(orchestrate.PIPELINE_DAGS)
    for result in results:
        assert result.ok, f"{result.dag_id} failed:\n{orchestrate.failure_excerpt(result, 40)}"


@pytest.fixture(scope="module")
def first_run(airflow_env):
    cfg = airflow_env
    with connect(cfg, autocommit=True) as conn:  # a clean warehouse: this test owns the test server
        ddl.reset(conn)
    with connect(cfg, "billing_src", autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")
    shutil.rmtree(cfg.outbox, ignore_errors=True)
    shutil.rmtree(cfg.landing, ignore_errors=True)
    generate(cfg.outbox, SimConfig(customers=CUSTOMERS, days=DAYS, start=START, seed=5))
    serve.present(cfg, START + timedelta(days=DAYS))
    try:
        _run_pipeline(cfg)
        with connect(cfg) as conn:
            counts = _table_counts(conn)
        yield counts
    finally:
        serve.stop_crm_api(cfg)


def test_every_raw_table_landed(first_run):
    for source in sources.SOURCES:
        for table in sources.tables(source):
            assert first_run[table.qualified] > 0, table.qualified


def test_dim_customers_has_one_row_per_generated_customer(first_run, airflow_env):
    with connect(airflow_env) as conn:
        total, distinct = conn.execute(
            "select count(*), count(distinct customer_id) from marts.dim_customers"
        ).fetchone()
    assert total == distinct == CUSTOMERS


def test_quality_gate_ran_and_passed(first_run, airflow_env):
    with connect(airflow_env) as conn:
        row = conn.execute(
            "select count(*), count(*) filter (where not success and severity = 'critical') from audit.dq_results "
            "where run_id = (select run_id from audit.dq_results order by validated_at desc limit 1)"
        ).fetchone()
    assert row[0] > 0 and row[1] == 0


def test_every_ingest_dag_validated_the_batches_it_landed(first_run, airflow_env):
    with connect(airflow_env) as conn:
        suites = conn.execute(
            "select split_part(run_id, '/', 1), suite, bool_and(success or severity = 'warning') "
            "from audit.dq_results where suite like 'raw.%' group by 1, 2"
        ).fetchall()
    expected = {(f"ingest_{s}", f"raw.{t.schema.removeprefix('raw_')}.{t.name}", True)
                for s in sources.SOURCES for t in sources.tables(s)}  # fmt: skip
    assert set(suites) == expected


def test_second_run_changes_no_row_count(first_run, airflow_env):
    _run_pipeline(airflow_env)
    with connect(airflow_env) as conn:
        assert _table_counts(conn) == first_run

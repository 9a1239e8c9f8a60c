"""End to end through real Airflow runs: four ingest DAGs, then transform (dbt through Cosmos, one
task per model, + GX), twice."""

import shutil
from dataclasses import dataclass
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
        "and table_type = 'BASE TABLE' and table_name not in ('dq_results', 'publications') order by 1"
    ).fetchall()
    return {name: conn.execute(f"select count(*) from {name}").fetchone()[0] for (name,) in names}


def _run_pipeline(cfg) -> str:
    """Run the five DAGs; the run id of the transform DAG."""
    logical = datetime.combine(START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)
    results = orchestrate.run_dags(cfg, orchestrate.PIPELINE_DAGS, logical)
    assert [r.dag_id for r in results] == list(orchestrate.PIPELINE_DAGS)
    for result in results:
        assert result.ok, f"{result.dag_id} failed:\n{orchestrate.failure_excerpt(result, 40)}"
    assert results[-1].run_id
    return results[-1].run_id


@dataclass
class FirstRun:
    counts: dict[str, int]
    transform_run_id: str


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
        run_id = _run_pipeline(cfg)
        with connect(cfg) as conn:
            counts = _table_counts(conn)
        yield FirstRun(counts, run_id)
    finally:
        serve.stop_crm_api(cfg)


def test_every_raw_table_landed(first_run):
    for source in sources.SOURCES:
        for table in sources.tables(source):
            assert first_run.counts[table.qualified] > 0, table.qualified


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


def _airflow_db(cfg):
    """A connection to Airflow's metadata database."""
    import psycopg

    if cfg.airflow_database_url:
        return psycopg.connect(cfg.airflow_database_url.replace("+psycopg2", "").replace("+psycopg", ""))
    return connect(cfg, "airflow")


def _marts_on_disk() -> set[str]:
    from pathlib import Path

    return {p.stem for p in (Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts").rglob("*.sql")}


def test_every_dbt_model_ran_as_its_own_successful_task(first_run, airflow_env):
    from pathlib import Path

    models = {p.stem for p in (Path(__file__).resolve().parents[2] / "dbt_project" / "models").rglob("*.sql")}
    with _airflow_db(airflow_env) as conn:
        states = dict(
            conn.execute(
                "select task_id, state from task_instance where dag_id = 'transform' and run_id = %s",
                (first_run.transform_run_id,),
            ).fetchall()
        )
    assert {t for t, state in states.items() if state != "success"} == set()
    built = {t.removeprefix("dbt.").removesuffix(".run").removesuffix("_run") for t in states if t.endswith("run")}
    assert models <= built
    assert states["validate_marts"] == states["publish"] == "success"


def test_each_mart_asset_was_emitted_after_the_gate(first_run, airflow_env):
    with _airflow_db(airflow_env) as conn:
        emitted = {
            uri
            for (uri,) in conn.execute(
                "select a.uri from asset_event e join asset a on a.id = e.asset_id "
                "where e.source_dag_id = 'transform' and e.source_task_id = 'publish' and e.source_run_id = %s",
                (first_run.transform_run_id,),
            )
        }
    assert emitted == {f"telco-dw://warehouse/marts/{m}" for m in _marts_on_disk()}


def test_marts_are_in_the_warehouse(first_run, airflow_env):
    with connect(airflow_env) as conn:
        present = {
            name
            for (name,) in conn.execute("select table_name from information_schema.tables where table_schema = 'marts'")
        }
    assert _marts_on_disk() <= present


def test_no_personal_value_reaches_quality_evidence_docs_or_logs(first_run, airflow_env):
    """DESIGN.md §5: DQ results, Data Docs and logs hold none of the simulator's personal values."""
    with connect(airflow_env) as conn:
        values = [
            v
            for (v,) in conn.execute(
                "select distinct v from raw_crm.customers, lateral (values (mobile), (id_card_no), (email)) t(v) "
                "where v is not null"
            )
        ]
        audit = {
            table: conn.execute(
                f"select count(*) from audit.{table} t where exists "
                "(select from unnest(%s::text[]) v where strpos(t::text, v) > 0)",
                (values,),
            ).fetchone()[0]
            for table in ("dq_results", "load_batches", "task_failures", "privacy_actions")
        }
    assert len(values) > 100 and audit == dict.fromkeys(audit, 0)
    folders = [airflow_env.airflow_home / "logs", airflow_env.docs, airflow_env.home / "gx"]
    needles = [v.encode() for v in values]

    def holds_one(path) -> bool:
        data = path.read_bytes()
        return any(n in data for n in needles)

    leaked = [str(p) for folder in folders for p in folder.rglob("*") if p.is_file() and holds_one(p)]
    assert leaked == []


def test_second_run_changes_no_row_count(first_run, airflow_env):
    """Per-run records aside (quality evidence, one publication per transform run), nothing grows."""
    second = _run_pipeline(airflow_env)
    with connect(airflow_env) as conn:
        assert _table_counts(conn) == first_run.counts
        published = conn.execute("select run_id from audit.publications where status = 'published' order by 1")
        assert {r for (r,) in published} == {f"transform/{first_run.transform_run_id}", f"transform/{second}"}


def test_every_dbt_model_is_in_the_warehouse_after_both_runs(first_run, airflow_env):
    """Rebuilding a view drops the views built on it (CASCADE): a model run out of order shows here."""
    import json

    from telco_dw.transform import manifest

    nodes = json.loads(manifest.checked(airflow_env).read_text())["nodes"].values()
    published = {"marts_candidate": "marts"}  # dbt writes the candidate, publish swaps it in
    expected = {(published.get(n["schema"], n["schema"]), n["name"]) for n in nodes if n["resource_type"] == "model"}
    with connect(airflow_env) as conn:
        present = set(
            conn.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('staging', 'intermediate', 'marts')"
            ).fetchall()
        )
    assert len(expected) >= 20 and expected <= present, expected - present

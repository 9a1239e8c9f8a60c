"""The transform DAG as Cosmos renders it from the dbt manifest: one task per model, tests attached,
the GX gate after every model, one Asset per mart; a missing or stale manifest says what to run."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARTS_DIR = REPO / "dbt_project" / "models" / "marts"


def _models_on_disk() -> set[str]:
    return {p.stem for p in (REPO / "dbt_project" / "models").rglob("*.sql")}


@pytest.fixture(scope="module")
def dag(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_env.dags_folder / "transform.py"))
    assert bag.import_errors == {}
    return bag.dags["transform"]


def _run_task_ids(dag) -> dict[str, list[str]]:
    """Model name -> ids of the tasks that build it (`dbt.<model>.run`, or `dbt.<model>_run` without tests)."""
    out: dict[str, list[str]] = {}
    for task_id in dag.task_ids:
        if not task_id.startswith("dbt."):
            continue
        rest = task_id.removeprefix("dbt.")
        for suffix in (".run", "_run"):
            if rest.endswith(suffix):
                out.setdefault(rest.removesuffix(suffix), []).append(task_id)
    return out


def test_one_task_per_dbt_model(dag, dbt_manifest):
    from telco_dw.transform.manifest import models

    run_tasks = _run_task_ids(dag)
    manifest_models = {m.name for m in models(dbt_manifest)}
    assert manifest_models == _models_on_disk(), "the manifest should hold every model file"
    assert set(run_tasks) == manifest_models
    assert all(len(ids) == 1 for ids in run_tasks.values()), run_tasks


def test_each_models_tests_run_after_it(dag, dbt_manifest):
    nodes = json.loads(dbt_manifest.read_text())["nodes"]
    tested = {
        dep.split(".")[-1]
        for node in nodes.values()
        if node["resource_type"] == "test"
        for dep in node["depends_on"]["nodes"]
        if dep.startswith("model.")
    }
    assert tested, "the project's models have data tests"
    for name in tested:
        test_task = dag.get_task(f"dbt.{name}.test")
        assert f"dbt.{name}.run" in test_task.upstream_task_ids


def test_dbt_follows_the_model_graph(dag):
    # dim_customers reads the customer intermediates, which read staging
    upstream = dag.get_task("dbt.dim_customers.run").get_flat_relative_ids(upstream=True)
    assert "dbt.int_subscriptions_aggregated_to_customers.test" in upstream
    assert "dbt.stg_crm__customers.run" in upstream


def test_watcher_model_tasks_start_after_the_build(dag, airflow_env):
    if airflow_env.dbt_execution != "watcher":
        pytest.skip("WATCHER mode only")
    downstream = dag.get_task("dbt.dbt_producer_watcher").get_flat_relative_ids(upstream=False)
    model_tasks = {t for t in dag.task_ids if t.startswith("dbt.") and t != "dbt.dbt_producer_watcher"}
    assert model_tasks <= downstream  # dag.test() runs tasks one at a time: none may wait for a later one
    assert dag.get_task("dbt.stg_crm__customers.run").trigger_rule == "all_done"


def test_dbt_builds_after_begin_build_and_the_gate_audits_the_candidate(dag):
    upstream = dag.get_task("validate_marts").get_flat_relative_ids(upstream=True)
    dbt_tasks = {t for t in dag.task_ids if t.startswith("dbt.")}
    assert dbt_tasks and dbt_tasks <= upstream and "validate_privacy" in upstream
    for gate in ("validate_privacy", "validate_marts"):
        assert dag.get_task(gate).schemas == {"marts": "marts_candidate"}
    assert dbt_tasks <= dag.get_task("begin_build").get_flat_relative_ids(upstream=False)


def test_publish_comes_last_and_runs_whatever_happened_to_say_why(dag):
    publish = dag.get_task("publish")
    assert publish.get_flat_relative_ids(upstream=True) == set(dag.task_ids) - {"publish"}
    assert publish.trigger_rule == "all_done"


def test_every_mart_is_an_outlet_of_publish(dag):
    marts = {p.stem for p in MARTS_DIR.rglob("*.sql")}
    assert {"dim_customers", "fct_satisfaction_monthly"} <= marts
    outlets = {(a.name, a.uri) for a in dag.get_task("publish").outlets}
    assert outlets == {(f"marts.{m}", f"telco-dw://warehouse/marts/{m}") for m in marts}
    assert not dag.get_task("validate_marts").outlets


# --- rendering in a fresh process: execution modes, missing and stale manifests ---------------------

_PARSE_VARIANTS = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from airflow.dag_processing.dagbag import DagBag
from telco_dw import config
out = {}
for name, env in json.loads(sys.argv[3]).items():
    os.environ.update(env)
    config.load.cache_clear()
    bag = DagBag(dag_folder=sys.argv[2])
    dag = bag.dags.get("transform")
    out[name] = {"errors": {k: str(v) for k, v in bag.import_errors.items()},
                 "tasks": {t.task_id: type(t).__name__ for t in dag.tasks} if dag else {}}
    for key in env:
        os.environ.pop(key)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def parsed(airflow_env, dbt_manifest, tmp_path_factory):
    """dags/transform.py parsed in one new process under several settings: its import errors and tasks."""
    from telco_dw import airflow_env as env_mod

    empty, stale = tmp_path_factory.mktemp("empty"), tmp_path_factory.mktemp("stale")
    shutil.copy(dbt_manifest, stale / "manifest.json")
    (stale / "manifest.fingerprint").write_text("built from another version of the models\n")
    variants = {
        "local": {"TELCO_DW_DBT_EXECUTION": "local"},
        "watcher": {"TELCO_DW_DBT_EXECUTION": "watcher"},
        "missing": {"DBT_TARGET_PATH": str(empty)},
        "stale": {"DBT_TARGET_PATH": str(stale)},
    }
    env = {**os.environ, **env_mod.environment(airflow_env)}
    for key in ("TELCO_DW_DBT_EXECUTION", "DBT_TARGET_PATH"):
        env.pop(key, None)
    args = [str(REPO / "plugins"), str(REPO / "dags" / "transform.py"), json.dumps(variants)]
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_VARIANTS, *args], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_local_execution_mode_runs_one_dbt_command_per_model(parsed):
    assert parsed["local"]["errors"] == {}
    tasks = parsed["local"]["tasks"]
    assert tasks["dbt.dim_customers.run"] == "DbtRunLocalOperator"
    assert tasks["dbt.dim_customers.test"] == "DbtTestLocalOperator"
    assert not any("producer" in t for t in tasks)


def test_watcher_execution_mode_has_one_producer(parsed):
    assert parsed["watcher"]["errors"] == {}
    assert parsed["watcher"]["tasks"]["dbt.dbt_producer_watcher"] == "DbtProducerWatcherOperator"
    assert parsed["watcher"]["tasks"]["dbt.dim_customers.run"] == "DbtRunWatcherOperator"


def test_missing_manifest_names_the_command_to_run(parsed):
    (message,) = parsed["missing"]["errors"].values()
    assert "does not exist" in message and "telco-dw manifest" in message


def test_stale_manifest_names_the_command_to_run(parsed):
    (message,) = parsed["stale"]["errors"].values()
    assert "older than the dbt project" in message and "telco-dw manifest" in message


def test_dbt_tasks_build_without_the_unit_tests(dag, airflow_env):
    """The transform DAG is a production build: every dbt task (the watcher's one `dbt build`, or each
    model's `dbt run`/`dbt test`) runs without dbt's unit tests (`dbt.PRODUCTION_ENV`), which
    development and CI builds run (tests/dbt)."""
    from telco_dw.transform.dbt import PRODUCTION_ENV

    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "env")]  # not Cosmos's no-ops
    expected = {"dbt.dim_customers.run", "dbt.dim_customers.test"}
    if airflow_env.dbt_execution == "watcher":
        expected.add("dbt.dbt_producer_watcher")  # the one `dbt build`
    assert expected <= {t.task_id for t in dbt_tasks}
    for task in dbt_tasks:
        assert PRODUCTION_ENV.items() <= (task.env or {}).items(), task.task_id

"""The same DAGs on Airflow's distributed executor: the api-server, scheduler, dag-processor, triggerer and a
Celery worker started natively (`orchestrate.up` with CeleryExecutor), Redis as the broker, a PostgreSQL
metadata database (also Celery's result backend). The whole pipeline runs and succeeds; then a worker is
killed while a load streams its COPY, a new worker is started, and the load is retried on it: the ledger
holds one batch for the file and the raw table no duplicate row (docs/deploy.md)."""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from stacklib import dag_runs, free_port, healthy, metadata, settled

from telco_dw import orchestrate
from telco_dw.config import Config
from telco_dw.load import ddl
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.sources import serve
from telco_dw.sources.network.schema import CELL_KPI_HOURLY
from telco_dw.warehouse.connection import connect, sqlalchemy_url, warehouse_url

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 5  # a database of its own on a shared server
METADATA_DB = "airflow_celery"  # not the shared `airflow`: no runs or queued asset events of other tests
CUSTOMERS, DAYS, START = 150, 6, date(2026, 10, 1)
BIG_DAY = START + timedelta(days=DAYS)  # a partition no pipeline run has seen
BIG_REF = f"network/cell_kpi/dt={BIG_DAY}/hour=00/cell_kpi.csv.gz"
BIG_ROWS = 1_000_000  # a COPY of a few seconds: long enough to be killed midway
HEARTBEAT_TIMEOUT = 60  # seconds without a task heartbeat before the scheduler fails the attempt (default 300);
# 20 s failed healthy dbt tasks on a loaded machine (load 11 on 2 cores): their heartbeats came later than that
INGEST = orchestrate.INGEST_DAGS
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def broker():
    """Redis database 5 on 127.0.0.1:6379, emptied before and after (never the other databases)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc}): the Celery test needs it")
    client.flushdb()
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client.flushdb()
    client.close()


def _big_file(path: Path) -> Path:
    """A cell-KPI file of BIG_ROWS clean rows (a cell each) for BIG_DAY."""
    with gzip.open(path, "wt", compresslevel=1, encoding="utf-8") as out:
        out.write(",".join(CELL_KPI_HOURLY.column_names) + "\n")
        hour = f"{BIG_DAY}T00:00:00Z"
        out.writelines(
            f"BIG{i:07d},广东省,5G,{hour},-95.0,-10.0,20.0,80.00,20.00,40.0,100,99,1\n" for i in range(BIG_ROWS)
        )
    return path


@dataclasses.dataclass
class Stack:
    cfg: Config
    pids: dict[str, int]
    big_file: Path
    """Moved into the landing folder once the pipeline's first runs are over (they would land it too)."""


def _wait_for_dags(cfg: Config, timeout: float) -> None:
    want = {*orchestrate.PIPELINE_DAGS, "privacy_retention"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with metadata(cfg) as meta:
            if want <= {dag_id for (dag_id,) in meta.execute("select dag_id from dag")}:
                return
        time.sleep(2)
    raise AssertionError(f"the dag-processor did not register {sorted(want)} in {timeout:.0f}s")


@pytest.fixture(scope="module")
def celery_stack(airflow_env, broker, tmp_path_factory):
    """The stack under CeleryExecutor on a fresh metadata database and the simulated sources, with the
    pipeline's first runs done; stopped at the end whatever happened."""
    base = airflow_env
    with connect(base, "postgres", autocommit=True) as conn:
        conn.execute(f"drop database if exists {METADATA_DB} with (force)")
        conn.execute(f"create database {METADATA_DB}")
    cfg = dataclasses.replace(
        base,
        airflow_api_port=free_port(),
        airflow_database_url=sqlalchemy_url(warehouse_url(base, METADATA_DB)),
        airflow_home=base.home / "airflow-celery",  # its own logs and pid files
        landing=str(tmp_path_factory.mktemp("celery") / "landing"),
    )
    shutil.rmtree(cfg.airflow_home / "logs", ignore_errors=True)
    settings = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker,
        # a dead worker's task is failed (and retried) once its heartbeat is this old, checked every 2 s
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
        # Redis hands an unacknowledged message (task_acks_late, the default) to another worker after this long:
        # longer than any task here. Recovery does not wait for it (the heartbeat timeout above decides).
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "600",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        started = time.monotonic()
        orchestrate.migrate(cfg)
        TIMES["migrate"] = time.monotonic() - started

        with connect(cfg, autocommit=True) as conn:  # a clean warehouse, as test_pipeline makes it
            ddl.reset(conn)
        with connect(cfg, "billing_src", autocommit=True) as conn:
            conn.execute("drop schema public cascade")
            conn.execute("create schema public")
        outbox = tmp_path_factory.mktemp("celery-outbox")
        generate(outbox, SimConfig(customers=CUSTOMERS, days=DAYS, start=START, seed=5))
        serve.present(cfg, START + timedelta(days=DAYS), outbox)
        try:
            # The dag-processor first, so that privacy_retention can be paused before the scheduler sees it:
            # its run emits every raw Asset, which would start a transform before the ingests have landed.
            orchestrate.up(cfg, only=[c for c in orchestrate.components(cfg) if c != "scheduler"])
            _wait_for_dags(cfg, timeout=180)
            with metadata(cfg) as meta:
                meta.execute("update dag set is_paused = true where dag_id = 'privacy_retention'")
            pids = orchestrate.up(cfg)
            TIMES["started"] = time.monotonic() - started
            yield Stack(cfg, pids, _big_file(outbox / "big.csv.gz"))
        finally:
            orchestrate.down(cfg)
            serve.stop_crm_api(cfg)
            with connect(base, autocommit=True) as conn:  # 1M rows other tests need not carry
                if conn.execute("select to_regclass('raw_network.cell_kpi_hourly')").fetchone()[0]:
                    conn.execute("delete from raw_network.cell_kpi_hourly where _source_file = %s", (BIG_REF,))


def _task_instances(cfg: Config, dag_ids) -> list[tuple]:
    with metadata(cfg) as meta:
        return meta.execute(
            "select dag_id, run_id, task_id, state, try_number, external_executor_id, operator from task_instance "
            "where dag_id = any(%s) order by dag_id, task_id",
            (list(dag_ids),),
        ).fetchall()


def _worker_log(cfg: Config) -> str:
    return (cfg.airflow_home / "logs" / f"{orchestrate.WORKER}.out").read_text(errors="replace")


@pytest.mark.timeout(1800)  # minutes more than on a quiet machine when other work shares the 2 cores
def test_the_pipeline_runs_on_celery_workers(celery_stack):
    cfg = celery_stack.cfg
    started = time.monotonic()
    assert set(celery_stack.pids) == {*orchestrate.COMPONENTS, orchestrate.WORKER}
    answer = healthy(cfg.airflow_api_port, 120)
    assert answer and {part: value["status"] for part, value in answer.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    # the scheduler runs each ingest DAG for the latest day (landing the whole simulated world), and their
    # Assets then start the transform
    for dag_id in INGEST:
        runs = settled(cfg, dag_id, 900, want=bool)
        assert [(r["run_type"], r["state"]) for r in runs] == [("scheduled", "success")], dag_id
    TIMES["ingest"] = time.monotonic() - started
    runs = settled(cfg, "transform", 900, want=bool)
    assert [(r["run_type"], r["state"]) for r in runs] == [("asset_triggered", "success")]
    TIMES["pipeline"] = time.monotonic() - started

    tis = _task_instances(cfg, orchestrate.PIPELINE_DAGS)
    unfinished = {(d, t, state) for d, _, t, state, *_ in tis if state not in ("success", "skipped")}
    assert unfinished == set()  # (ingest_crm's land_export skips: no bulk export is waiting)
    assert len({dag_id for dag_id, *_ in tis}) == len(orchestrate.PIPELINE_DAGS)
    # every task went through Celery: its Celery task id is one the worker logged receiving (the scheduler
    # itself marks an EmptyOperator done, e.g. dbt.dbt_producer_watcher_done)
    log = _worker_log(cfg)
    not_via_celery = [
        (d, t)
        for d, _, t, _, _, celery_id, operator in tis
        if operator != "EmptyOperator" and (not celery_id or celery_id not in log)
    ]
    assert not_via_celery == []
    with connect(cfg) as conn:
        failed_for_good = conn.execute("select task_id, error from audit.task_failures where not will_retry")
        assert failed_for_good.fetchall() == []
        # Attempts that failed and were retried are allowed (TASK_RETRIES): the four first landings into a
        # freshly reset warehouse, side by side, once hit "deadlock detected" in ingest_crm.land (docs/deploy.md)
        retried = conn.execute("select dag_id, task_id, try_number, error from audit.task_failures").fetchall()
        assert conn.execute("select count(*) from marts.dim_customers").fetchone()[0] == CUSTOMERS
    print("retried attempts in the pipeline:", retried)


def _copying(conn) -> tuple[int, int] | None:
    """(backend pid, rows so far) of the COPY streaming the big file into the raw table, if one is."""
    return conn.execute(
        "select a.pid, p.tuples_processed from pg_stat_progress_copy p join pg_stat_activity a using (pid) "
        "where a.query ilike 'copy raw_network.cell_kpi_hourly%%' and p.tuples_processed > 0"
    ).fetchone()


def _kill_tree(pid: int) -> set[int]:
    """SIGKILL the process group of ``pid`` and of every process below it (a task runner has a group of its
    own): what a worker's machine dying does. Returns the pids killed."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    groups = set()
    for proc in procs:
        try:
            groups.add(os.getpgid(proc.pid))
        except ProcessLookupError:
            pass
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {proc.pid for proc in procs}


@pytest.mark.timeout(1500)
def test_a_load_on_a_killed_worker_is_retried_on_a_new_worker_and_lands_once(celery_stack):
    cfg = celery_stack.cfg
    target = os.path.join(cfg.landing, BIG_REF)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(celery_stack.big_file, target)
    logical = datetime.combine(BIG_DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    started = time.monotonic()
    orchestrate.airflow(cfg, ["dags", "trigger", "ingest_network", "--logical-date", logical.isoformat()])
    [run] = [r for r in dag_runs(cfg, "ingest_network") if r["run_type"] == "manual"]

    with connect(cfg, autocommit=True) as conn:
        deadline = time.monotonic() + 180
        while (copying := _copying(conn)) is None:
            assert time.monotonic() < deadline, "the load of the big file never started"
            time.sleep(0.05)
        with metadata(cfg) as meta:
            state, try_number, runner_pid = meta.execute(
                "select state, try_number, pid from task_instance "
                "where dag_id = 'ingest_network' and task_id = 'land' and run_id = %s",
                (run["run_id"],),
            ).fetchone()
        assert (state, try_number) == ("running", 1)
        killed = _kill_tree(celery_stack.pids[orchestrate.WORKER])
        killed_wall = datetime.now(UTC)
        TIMES["killed_after"] = time.monotonic() - started
        assert runner_pid in killed  # the task's own process died with the worker
        backend = copying[0]
        while conn.execute("select count(*) from pg_stat_activity where pid = %s", (backend,)).fetchone()[0]:
            time.sleep(0.05)  # the server aborts the dead client's transaction
        assert copying[1] < BIG_ROWS  # killed midway
        assert _visible(conn) == (0, 0)  # nothing of the killed attempt

    old_log = len(_worker_log(cfg))
    killed_at = time.monotonic()
    new_pids = orchestrate.up(cfg)  # only the dead worker is started again
    assert new_pids[orchestrate.WORKER] != celery_stack.pids[orchestrate.WORKER]
    assert {c: p for c, p in new_pids.items() if c != orchestrate.WORKER} == {
        c: p for c, p in celery_stack.pids.items() if c != orchestrate.WORKER
    }
    [run] = settled(cfg, "ingest_network", 900, want=lambda runs: len(runs) == 2)[1:]
    TIMES["recovered_after_kill"] = time.monotonic() - killed_at
    assert run["state"] == "success"

    with metadata(cfg) as meta:
        attempts = meta.execute(
            "select try_number, state, hostname, external_executor_id, start_date, end_date "
            "from task_instance_history where dag_id = 'ingest_network' and task_id = 'land' and run_id = %s "
            "union all select try_number, state, hostname, external_executor_id, start_date, end_date "
            "from task_instance where dag_id = 'ingest_network' and task_id = 'land' and run_id = %s "
            "order by 1",
            (run["run_id"], run["run_id"]),
        ).fetchall()
        timeout_logged = meta.execute(
            "select count(*) from log where event = 'heartbeat timeout' and dag_id = 'ingest_network' "
            "and task_id = 'land' and run_id = %s",
            (run["run_id"],),
        ).fetchone()[0]
    assert [(n, state) for n, state, *_ in attempts] == [(1, "failed"), (2, "success")], attempts
    (_, _, host_1, celery_1, _, end_1), (_, _, host_2, celery_2, start_2, _) = attempts
    log = _worker_log(cfg)
    assert celery_1 != celery_2
    assert celery_1 in log[:old_log]  # try 1 was received by the killed worker
    assert celery_2 in log[old_log:]  # try 2 by the new one
    assert host_1 == host_2  # (both workers run on this machine)
    assert timeout_logged == 1
    TIMES["attempt_failed_after_kill"] = (end_1 - killed_wall).total_seconds()
    TIMES["retry_started_after_kill"] = (start_2 - killed_wall).total_seconds()

    with connect(cfg) as conn:
        assert _visible(conn) == (1, BIG_ROWS)
        total, distinct = conn.execute(
            "select count(*), count(distinct _row_number) from raw_network.cell_kpi_hourly where _source_file = %s",
            (BIG_REF,),
        ).fetchone()
        failures = conn.execute(
            "select task_id, try_number, will_retry from audit.task_failures "
            "where dag_id = 'ingest_network' and run_id = %s",
            (run["run_id"],),
        ).fetchall()
    assert total == distinct == BIG_ROWS
    print("celery test times (s):", {k: round(v, 1) for k, v in TIMES.items()}, "failures:", failures)
    # the attempt is recorded (error "unknown error"); Airflow 3.3 ran the heartbeat-timeout retry callback
    # twice, 3 s apart, in the run that measured it, so there may be two identical rows
    assert set(failures) == {("land", 1, True)}


def _visible(conn) -> tuple[int, int]:
    """(ledger rows, raw rows) of the big file."""
    batches = conn.execute("select count(*) from audit.load_batches where source_file = %s", (BIG_REF,)).fetchone()[0]
    rows = conn.execute(
        "select count(*) from raw_network.cell_kpi_hourly where _source_file = %s", (BIG_REF,)
    ).fetchone()[0]
    return batches, rows

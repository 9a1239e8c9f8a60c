"""Running the project's Airflow: metadata set-up, one-shot DAG runs, and the long-running stack.

Every Airflow process gets the environment of :func:`telco_dw.airflow_env.environment`.
``run_dags`` does what ``airflow dags test`` does for several DAGs in one process: real DagRuns of the
real DAG files, recorded in the metadata database, with no scheduler needed. ``up``/``down`` manage the api-server,
scheduler, dag-processor and triggerer as background processes for the UI, and a Celery worker when the executor is
``CeleryExecutor`` (docs/deploy.md).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from telco_dw import airflow_env
from telco_dw.config import Config
from telco_dw.errors import UserError

log = logging.getLogger(__name__)

INGEST_DAGS = ("ingest_crm", "ingest_billing", "ingest_network", "ingest_survey")
PIPELINE_DAGS = (*INGEST_DAGS, "transform")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WORKER = "worker"
"""``airflow celery worker``: started with :data:`COMPONENTS` when ``AIRFLOW__CORE__EXECUTOR`` is CeleryExecutor."""


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    ok: bool
    seconds: float
    log_file: Path
    run_id: str | None = None


def _airflow() -> str:
    exe = Path(sys.executable).with_name("airflow")
    if not exe.exists():
        raise UserError("Airflow is not installed in this environment: run `make demo` (or `uv sync`) first")
    return str(exe)


def process_env(cfg: Config) -> dict[str, str]:
    """``os.environ`` plus the project's Airflow environment."""
    env = dict(os.environ)
    env.update(airflow_env.environment(cfg))
    return env


def airflow(cfg: Config, args: Sequence[str], log_file: Path | None = None, check: bool = True) -> int:
    """Run one ``airflow`` CLI command with the project environment; output to ``log_file`` or the terminal."""
    cfg.airflow_home.mkdir(parents=True, exist_ok=True)
    command = [_airflow(), *args]
    if log_file is None:
        code = subprocess.call(command, env=process_env(cfg), cwd=cfg.repo)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as out:
            code = subprocess.call(command, env=process_env(cfg), cwd=cfg.repo, stdout=out, stderr=subprocess.STDOUT)
    if check and code != 0:
        where = f"; its output is in {log_file}" if log_file else ""
        raise UserError(f"`airflow {' '.join(args)}` failed with exit code {code}{where}")
    return code


def migrate(cfg: Config) -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    airflow(cfg, ["db", "migrate"], log_file=cfg.airflow_home / "logs" / "db-migrate.log")


def run_dags(cfg: Config, dag_ids: Sequence[str], logical_date: datetime) -> list[DagRunResult]:
    """One real run of each DAG, in order, stopping at the first failure (see :mod:`telco_dw.dagrun`).

    All runs share one process and one log file, ``$AIRFLOW_HOME/logs/dags-test/<first>..<last>.log``.
    """
    log_dir = cfg.airflow_home / "logs" / "dags-test"
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = dag_ids[0] if len(dag_ids) == 1 else f"{dag_ids[0]}..{dag_ids[-1]}"
    log_file, results_file = log_dir / f"{stem}.log", log_dir / f"{stem}.json"
    results_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "telco_dw.dagrun",
        "--logical-date",
        logical_date.isoformat(),
        "--results",
        str(results_file),
        *dag_ids,
    ]
    with log_file.open("w") as out:
        subprocess.call(command, env=process_env(cfg), cwd=cfg.repo, stdout=out, stderr=subprocess.STDOUT)
    done = json.loads(results_file.read_text()) if results_file.exists() else []
    results = [DagRunResult(r["dag_id"], r["state"] == "success", r["seconds"], log_file, r["run_id"]) for r in done]
    if len(results) < len(dag_ids) and (not results or results[-1].ok):
        missing = dag_ids[len(results)]  # the process died before it could report this DAG
        results.append(DagRunResult(missing, False, 0.0, log_file, None))
    return results


def failure_excerpt(result: DagRunResult, lines: int = 15) -> str:
    """The lines of a failed run's log that say why (errors first), for a short report."""
    text = result.log_file.read_text(errors="replace").splitlines() if result.log_file.exists() else []
    errors = [line for line in text if "UserError" in line or "Error:" in line or "ERROR" in line]
    return "\n".join((errors or text)[-lines:])


# --- the long-running stack (make up / make down) -------------------------------------------------


def _pid_file(cfg: Config, component: str) -> Path:
    return cfg.airflow_home / "run" / f"{component}.pid"


def _running(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive (a zombie, exited but not reaped, is not)."""
    import psutil

    if not pid_file.exists():
        return None
    try:
        process = psutil.Process(int(pid_file.read_text().strip()))
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except (ValueError, psutil.Error):
        return None
    return process.pid


def components(cfg: Config) -> tuple[str, ...]:
    """The components :func:`up` starts: :data:`COMPONENTS`, plus :data:`WORKER` under the CeleryExecutor."""
    executor = process_env(cfg)["AIRFLOW__CORE__EXECUTOR"]
    return (*COMPONENTS, WORKER) if executor.rsplit(".", 1)[-1] == "CeleryExecutor" else COMPONENTS


def _command(component: str) -> list[str]:
    if component == WORKER:
        # Task logs are files under $AIRFLOW_HOME/logs that the api-server reads itself on one machine, so the
        # worker's log server (port 8793, which another checkout's worker may hold) is not started.
        return [_airflow(), "celery", "worker", "--skip-serve-logs"]
    return [_airflow(), component]


def up(cfg: Config, only: Sequence[str] | None = None) -> dict[str, int]:
    """Start the Airflow components in the background (idempotent: a running one is left alone, a dead one is
    started again); returns their pids. ``only``: a subset of :func:`components` to start."""
    env = process_env(cfg)
    wanted = components(cfg)
    unknown = set(only or ()) - set(wanted)
    if unknown:
        raise UserError(f"unknown Airflow component(s) {', '.join(sorted(unknown))}: use {', '.join(wanted)}")
    pids: dict[str, int] = {}
    for component in only or wanted:
        pid_file = _pid_file(cfg, component)
        pid = _running(pid_file)
        if pid is None:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            out = (cfg.airflow_home / "logs" / f"{component}.out").open("a")
            proc = subprocess.Popen(
                _command(component),
                env=env,
                cwd=cfg.repo,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            pid_file.write_text(f"{proc.pid}\n")
            pid = proc.pid
        pids[component] = pid
    return pids


def down(cfg: Config, timeout: float = 30) -> list[str]:
    """Stop the components started by :func:`up` (SIGTERM, then SIGKILL after ``timeout``)."""
    stopped = []
    for component in (*COMPONENTS, WORKER):
        pid_file = _pid_file(cfg, component)
        pid = _running(pid_file)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _running(pid_file) and time.monotonic() < deadline:
                time.sleep(0.5)
            if _running(pid_file):
                os.killpg(pid, signal.SIGKILL)
            stopped.append(component)
        pid_file.unlink(missing_ok=True)
    return stopped

"""Running the project's Airflow: metadata set-up, one-shot DAG runs, and the long-running stack.

Every Airflow process gets the environment of :func:`telco_dw.airflow_env.environment`.
``run_dag`` uses ``airflow dags test``: a real DagRun of the real DAG file, recorded in the metadata
database, executed in one process (no scheduler needed). ``up``/``down`` manage the api-server,
scheduler, dag-processor and triggerer as background processes for the UI.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    ok: bool
    seconds: float
    log_file: Path


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


def run_dag(cfg: Config, dag_id: str, logical_date: datetime) -> DagRunResult:
    """One real run of ``dag_id`` for ``logical_date`` through ``airflow dags test``."""
    started = time.monotonic()
    log_file = cfg.airflow_home / "logs" / "dags-test" / f"{dag_id}.log"
    code = airflow(cfg, ["dags", "test", dag_id, logical_date.isoformat()], log_file=log_file, check=False)
    return DagRunResult(dag_id=dag_id, ok=code == 0, seconds=time.monotonic() - started, log_file=log_file)


def failure_excerpt(result: DagRunResult, lines: int = 15) -> str:
    """The lines of a failed run's log that say why (errors first), for a short report."""
    text = result.log_file.read_text(errors="replace").splitlines() if result.log_file.exists() else []
    errors = [line for line in text if "UserError" in line or "Error:" in line or "ERROR" in line]
    return "\n".join((errors or text)[-lines:])


# --- the long-running stack (make up / make down) -------------------------------------------------


def _pid_file(cfg: Config, component: str) -> Path:
    return cfg.airflow_home / "run" / f"{component}.pid"


def _running(pid_file: Path) -> int | None:
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def up(cfg: Config) -> dict[str, int]:
    """Start the Airflow components in the background (idempotent); returns their pids."""
    env = process_env(cfg)
    pids: dict[str, int] = {}
    for component in COMPONENTS:
        pid_file = _pid_file(cfg, component)
        pid = _running(pid_file)
        if pid is None:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            out = (cfg.airflow_home / "logs" / f"{component}.out").open("a")
            proc = subprocess.Popen(
                [_airflow(), component], env=env, cwd=cfg.repo, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            pid_file.write_text(f"{proc.pid}\n")
            pid = proc.pid
        pids[component] = pid
    return pids


def down(cfg: Config, timeout: float = 30) -> list[str]:
    """Stop the components started by :func:`up` (SIGTERM, then SIGKILL after ``timeout``)."""
    stopped = []
    for component in COMPONENTS:
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

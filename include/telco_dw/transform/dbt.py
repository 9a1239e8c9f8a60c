"""Run dbt (dbt-core + dbt-postgres) against a warehouse URL, streaming its log.

Connection details reach ``dbt_project/profiles.yml`` through ``TELCO_DW_DB_*`` environment
variables of the dbt process only, so no credential is written to a file.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from telco_dw import config
from telco_dw.errors import UserError

log = logging.getLogger(__name__)


PRODUCTION_ENV = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
"""What a production build of the warehouse (the transform DAG, ``telco-dw rebuild``) sets for dbt:
leave out dbt's unit tests (``unit_tests:``). They check the models' SQL on fixed inputs, so they pass
or fail with the code, not with the data: they run in development and CI (every other ``dbt build``:
``make test``, ``telco-dw dbt build``), as dbt's documentation advises, and a daily build re-ran
all of them on the customer 360's serial tail (4 node-seconds of an 80 s incremental build at 1M
customers, docs/performance.md). A build of ``build``, ``test``, ``list`` or ``clone`` honours it."""


def log_file(cfg: config.Config) -> Path:
    """dbt's log (``DBT_LOG_PATH``, beside its target folder): where a failed command says to look."""
    return cfg.dbt_target.parent / "logs" / "dbt.log"


def dbt_env(libpq_url: str, *, production: bool = False) -> dict[str, str]:
    """Environment for a dbt process: connection variables, target/log paths, no telemetry; and, for a
    ``production`` build, :data:`PRODUCTION_ENV`."""
    cfg = config.load()
    parts = urlsplit(libpq_url)
    env = dict(os.environ)
    env.update(
        TELCO_DW_DB_HOST=parts.hostname or "127.0.0.1",
        TELCO_DW_DB_PORT=str(parts.port or 5432),
        TELCO_DW_DB_USER=unquote(parts.username or "postgres"),
        TELCO_DW_DB_PASSWORD=unquote(parts.password or ""),
        TELCO_DW_DB_NAME=parts.path.lstrip("/") or "telco_dw",
        DBT_TARGET_PATH=str(cfg.dbt_target),
        DBT_LOG_PATH=str(log_file(cfg).parent),
        DBT_PROFILES_DIR=str(cfg.dbt_project),
        DBT_PROJECT_DIR=str(cfg.dbt_project),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    if production:
        env.update(PRODUCTION_ENV)
    return env


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    if not candidate.exists():
        raise UserError("dbt is not installed in this environment: run `make demo` or `uv sync` to install it")
    return str(candidate)


def run(args: list[str], libpq_url: str, *, production: bool = False) -> None:
    """Run ``dbt <args>`` in the project folder (a ``production`` build: :data:`PRODUCTION_ENV`); raise
    :class:`UserError` naming the command on failure."""
    cfg = config.load()
    command = [_dbt_executable(), *args]
    log.info("running %s", " ".join(command))
    with subprocess.Popen(
        command,
        cwd=cfg.dbt_project,
        env=dbt_env(libpq_url, production=production),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.info("dbt: %s", line.rstrip())
    if proc.returncode != 0:
        raise UserError(
            f"`dbt {' '.join(args)}` failed (exit {proc.returncode}); its log is above and in {log_file(cfg)}"
        )

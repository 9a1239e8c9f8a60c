"""Helpers of the tests that run the native Airflow stack (`orchestrate.up`): a free port, the api-server's
health, and DAG runs read from the metadata database (cheaper than an `airflow` CLI process per poll)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC

import psycopg

from telco_dw.config import Config
from telco_dw.warehouse.connection import warehouse_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(port: int) -> dict | None:
    """The api-server's `/api/v2/monitor/health`, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


def healthy(port: int, timeout: float) -> dict | None:
    """The health answer once every part says healthy, else the last answer (None: it never answered)."""
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = health(port)
        if answer and all(part.get("status") == "healthy" for part in answer.values()):
            break
        time.sleep(3)
    return answer


def metadata(cfg: Config) -> psycopg.Connection:
    """An autocommit connection to Airflow's metadata database (``cfg.airflow_database_url`` or `airflow`)."""
    if cfg.airflow_database_url:
        url = cfg.airflow_database_url.replace("+psycopg2", "").replace("+psycopg", "")
    else:
        url = warehouse_url(cfg, "airflow")
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def dag_runs(cfg: Config, dag_id: str) -> list[dict]:
    """The DAG's runs: run_id, run_type, state, logical_date (ISO, UTC; None for a run without one)."""
    with metadata(cfg) as meta:
        rows = meta.execute(
            "select run_id, run_type, state, logical_date from dag_run where dag_id = %s order by id", (dag_id,)
        ).fetchall()
    return [
        {
            "run_id": run_id,
            "run_type": run_type,
            "state": state,
            "logical_date": logical.astimezone(UTC).isoformat() if logical else None,
        }
        for run_id, run_type, state, logical in rows
    ]


def settled(
    cfg: Config, dag_id: str, timeout: float, want: Callable[[list[dict]], bool] = lambda runs: True
) -> list[dict]:
    """The DAG's runs once ``want(runs)`` holds and every run is finished (success or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = dag_runs(cfg, dag_id)
        if want(runs) and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"{dag_id} runs did not finish in {timeout:.0f}s: {dag_runs(cfg, dag_id)}")

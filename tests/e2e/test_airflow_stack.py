"""`make up` starts a working Airflow (api-server, scheduler, dag-processor, triggerer); `make down` stops it."""

import json
import socket
import time
import urllib.request

import pytest

from telco_dw import orchestrate

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


def test_up_serves_a_healthy_stack_and_down_stops_it(airflow_env, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("AIRFLOW_API_PORT", str(port))
    pids = orchestrate.up(airflow_env)
    try:
        assert set(pids) == set(orchestrate.COMPONENTS)
        deadline = time.monotonic() + 180
        health = None
        while time.monotonic() < deadline:
            health = _health(port)
            if health and all(part.get("status") == "healthy" for part in health.values()):
                break
            time.sleep(3)
        assert health is not None, "the api-server never answered"
        assert {k: v["status"] for k, v in health.items()} == {
            "metadatabase": "healthy",
            "scheduler": "healthy",
            "triggerer": "healthy",
            "dag_processor": "healthy",
        }
        assert orchestrate.up(airflow_env) == pids  # idempotent: nothing started twice
    finally:
        stopped = orchestrate.down(airflow_env)
    assert set(stopped) == set(orchestrate.COMPONENTS)
    assert _health(port) is None

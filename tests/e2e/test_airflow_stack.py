"""`make up` starts a working Airflow (api-server, scheduler, dag-processor, triggerer); `make down` stops it."""

import dataclasses
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


def test_up_serves_a_healthy_stack_and_down_stops_it(airflow_env):
    port = _free_port()  # not 8080: a developer's own `make up` may hold it
    cfg = dataclasses.replace(airflow_env, airflow_api_port=port)
    pids = orchestrate.up(cfg)
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
        assert orchestrate.up(cfg) == pids  # idempotent: nothing started twice
    finally:
        stopped = orchestrate.down(cfg)
    assert set(stopped) == set(orchestrate.COMPONENTS)
    assert _health(port) is None

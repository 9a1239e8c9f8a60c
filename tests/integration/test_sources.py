"""Every simulated interface served and read back: the CRM API (pages, faults, auth), the CRM bulk
export with its mapping, the billing OLTP database, and file delivery (late files included)."""

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from telco_dw.errors import UserError
from telco_dw.simulate.deliver import deliver
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.sources.billing import oltp
from telco_dw.sources.crm.api import CrmApiServer, load_latest
from telco_dw.sources.crm.client import iter_pages
from telco_dw.sources.crm.export import default_mapping_yaml, load_mapping, read_export
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration
START = date(2026, 10, 1)
WORLD = SimConfig(customers=150, days=6, start=START, seed=9, dirty_rate=0.02)
TOKEN = "test-token"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    out = tmp_path_factory.mktemp("outbox")
    generate(out, WORLD)
    return out


def _all(api, entity, since=None, page_size=7, **kw):
    ids = []
    for page in iter_pages(api.url, TOKEN, entity, since, page_size, backoff=0.01, **kw):
        ids += [r[f"{entity[:-1]}_id"] for r in page.records]
    return ids


@pytest.mark.parametrize("entity", ["customers", "subscriptions", "tickets"])
def test_pages_yield_every_latest_record_exactly_once(outbox, entity):
    expected = [rid for _, rid, _ in load_latest(outbox, entity)]
    with CrmApiServer(outbox, TOKEN) as api:
        ids = _all(api, entity)
    assert ids == expected and len(set(ids)) == len(ids) > 0


def test_updated_since_filters_and_as_of_hides_the_future(outbox):
    since = datetime.combine(START + timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    with CrmApiServer(outbox, TOKEN) as api:
        recent = [r for p in iter_pages(api.url, TOKEN, "subscriptions", since, 50) for r in p.records]
    assert recent and all(r["updated_at"] > since.strftime("%Y-%m-%dT%H:%M:%SZ") for r in recent)
    with CrmApiServer(outbox, TOKEN, as_of=since) as api:
        early = [r for p in iter_pages(api.url, TOKEN, "subscriptions", None, 50) for r in p.records]
    assert early and all(r["updated_at"] < since.strftime("%Y-%m-%dT%H:%M:%SZ") for r in early)


def test_faults_are_retried_and_nothing_is_lost_or_repeated(outbox):
    expected = [rid for _, rid, _ in load_latest(outbox, "customers")]
    with CrmApiServer(outbox, TOKEN, rate_429=0.15, rate_5xx=0.15, retry_after=0, seed=4) as api:
        ids = _all(api, "customers", attempts=20)
        assert api.answered[429] > 0 and sum(n for code, n in api.answered.items() if code >= 500) > 0
    assert ids == expected


def test_retry_after_is_honoured(outbox):
    with CrmApiServer(outbox, TOKEN, rate_429=0.5, retry_after=1, seed=1) as api:
        started = time.monotonic()
        _all(api, "tickets", page_size=1000, attempts=20)
        waited = time.monotonic() - started
        assert api.answered[429] >= 1
        assert waited >= api.answered[429] * 1.0


def test_a_wrong_token_is_a_clear_error(outbox):
    with CrmApiServer(outbox, TOKEN) as api, pytest.raises(UserError, match=r"refused the token.*crm_api"):
        list(iter_pages(api.url, "wrong", "customers", None, 10))


def test_bad_parameters_are_rejected_naming_them(outbox):
    import urllib.error
    import urllib.request

    with CrmApiServer(outbox, TOKEN) as api:
        request = urllib.request.Request(
            f"{api.url}/v1/customers?limit=0", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request)
    assert err.value.code == 400 and json.loads(err.value.read())["parameter"] == "limit"


def test_the_bulk_export_maps_through_its_yaml(outbox, tmp_path):
    mapping_path = outbox / "crm/export/mapping.yml"
    assert mapping_path.read_text(encoding="utf-8") == default_mapping_yaml()
    rows = list(read_export(outbox / "crm/export/customers_export.csv", load_mapping(mapping_path)))
    good = [r for r in rows if r.rejected is None]
    assert len(good) >= WORLD.customers
    first = good[0]
    assert first.values["gender"] in ("M", "F")
    assert isinstance(first.values["birth_date"], date) and first.values["created_at"].tzinfo is UTC
    assert set(first.extra) == {"会员等级"}  # unmapped columns are kept
    manifest = json.loads((outbox / "manifest.json").read_text())
    injected = sum(
        manifest["dirty"].get(k, {}).get("crm/export/customers_export.csv", 0) for k in ("malformed", "bad_encoding")
    )
    rejected = [r for r in rows if r.rejected]
    assert len(rejected) == injected
    assert all(r.rejected.startswith(f"row {r.number}") for r in rejected)


def test_a_mapping_can_null_a_bad_value_and_record_it(tmp_path):
    export = tmp_path / "e.csv"
    export.write_text("客户编号,出生日期\nC1,1990/02/30\nC2,1991/03/01\n", encoding="utf-8")
    mapping = tmp_path / "m.yml"
    mapping.write_text(
        "columns:\n  客户编号: {target: customer_id, on_error: reject}\n"
        "  出生日期: {target: birth_date, cast: date, format: '%Y/%m/%d', on_error: null}\n",
        encoding="utf-8",
    )
    rows = list(read_export(export, load_mapping(mapping)))
    assert rows[0].values == {"customer_id": "C1", "birth_date": None} and "出生日期" in rows[0].issues[0]
    assert rows[1].values["birth_date"] == date(1991, 3, 1) and not rows[1].issues


def test_billing_oltp_advances_idempotently_and_rows_change_after_insert(warehouse, outbox):
    with connect(warehouse, "billing_src", autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")
        first = oltp.advance(conn, outbox, START + timedelta(days=1))
        assert first["accounts"] >= WORLD.customers and first["invoices"] > 0
        pending = {p for (p,) in conn.execute("select payment_id from payments where status = 'pending'")}
        assert oltp.advance(conn, outbox, START + timedelta(days=1)) == dict.fromkeys(first, 0)
        oltp.advance(conn, outbox, START + timedelta(days=6))
        later = dict(
            conn.execute("select payment_id, status from payments where payment_id = any(%s)", (list(pending),))
        )
    assert pending and len(later) == len(pending)  # updated in place, not duplicated
    assert any(status != "pending" for status in later.values())  # payments settled after insert


def test_files_are_delivered_when_due_and_late_ones_later(outbox, tmp_path):
    landing = tmp_path / "landing"
    manifest = json.loads((outbox / "manifest.json").read_text())
    copied = deliver(outbox, str(landing), START + timedelta(days=2))
    assert copied and all("dt=2026-10-01" in c or "dt=2026-10-02" in c for c in copied)
    assert deliver(outbox, str(landing), START + timedelta(days=2)) == []  # idempotent
    rel, due = sorted(manifest["late_files"].items())[0]
    assert not (landing / rel).exists()
    deliver(outbox, str(landing), date.fromisoformat(due) + timedelta(days=1))
    assert (landing / rel).exists()
    with (landing / rel).open("rb") as handle:
        assert handle.read(2) in (b"\x1f\x8b", b'{"')  # gzip CSV or JSON Lines


def test_serve_in_the_foreground_as_a_containers_main_process(outbox, tmp_path):
    """`sources serve --foreground` (docker-compose's `sources` service): files delivered, then the CRM
    API served by the command itself on the given address with CRM_API_TOKEN, until SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "TELCO_DW_HOME": str(tmp_path / "home"),
        "TELCO_DW_OUTBOX": str(outbox),
        "LANDING_URL": str(tmp_path / "landing"),
        "CRM_API_TOKEN": "compose-token",
        "BILLING_SOURCE_URL": "postgresql://billing@127.0.0.1:9/real",  # a "real" billing system: left alone
    }
    command = [str(Path(sys.executable).with_name("telco-dw")), "sources", "serve", "--foreground",
               "--host", "0.0.0.0", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.2)
        ids = [r["customer_id"] for p in iter_pages(f"http://127.0.0.1:{port}", "compose-token", "customers", None, 500)
               for r in p.records]  # fmt: skip
        end = datetime.combine(START + timedelta(days=WORLD.days), datetime.min.time(), tzinfo=UTC)
        assert ids == [rid for _, rid, _ in load_latest(outbox, "customers", end)]
        assert any((tmp_path / "landing" / "survey").rglob("*.jsonl"))
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    assert f"CRM API listening on http://0.0.0.0:{port}" in out
    assert "billing_src rows (real system, not simulated)" in out  # BILLING_SOURCE_URL: not touched

"""The CRM API simulator and its client over real loopback HTTP: pages, filters, cursors, faults, auth.

The outbox is a small hand-written one (docs/sources.md layout): records with several versions over
days, ties on ``updated_at``, an exact duplicate line.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from telco_dw.errors import UserError
from telco_dw.sources.crm.api import CrmApiServer, load_latest
from telco_dw.sources.crm.client import iter_pages

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token"
ID = {"customers": "customer_id", "subscriptions": "subscription_id", "tickets": "ticket_id"}
DAYS = ("2026-10-01", "2026-10-02", "2026-10-03")


def _ts(day: str, second: int) -> str:
    return f"{day}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"


def _versions() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per entity, per day: the record versions written that day."""
    rng = random.Random(7)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {e: {d: [] for d in DAYS} for e in ID}
    for n in range(1, 61):
        cid = f"C{n:07d}"
        created = _ts("2026-10-01", 3600 + n * 60)
        base = {"customer_id": cid, "full_name": f"客户{n}", "gender": "MF"[n % 2], "city": "北京市"}
        out["customers"]["2026-10-01"].append({**base, "created_at": created, "updated_at": created})
        if n % 3 == 0:  # a second version the next day; every 9th a third one
            out["customers"]["2026-10-02"].append({**base, "city": "上海市", "updated_at": _ts("2026-10-02", n * 30)})
        if n % 9 == 0:
            out["customers"]["2026-10-03"].append({**base, "city": "广州市", "updated_at": _ts("2026-10-03", 7200)})
        sub = {"subscription_id": f"S{n:07d}", "customer_id": cid, "plan_code": "P59", "status": "active"}
        out["subscriptions"]["2026-10-01"].append({**sub, "updated_at": created})
        if rng.random() < 0.4:
            day = rng.choice(DAYS[1:])
            out["subscriptions"][day].append({**sub, "plan_code": "P99", "updated_at": _ts(day, rng.randrange(86400))})
    for n in range(1, 31):
        ticket = {"ticket_id": f"T{n:07d}", "customer_id": f"C{n:07d}", "status": "open"}
        out["tickets"]["2026-10-02"].append({**ticket, "updated_at": _ts("2026-10-02", 43200)})  # all tied
        if n % 2:
            out["tickets"]["2026-10-03"].append({**ticket, "status": "resolved", "updated_at": _ts("2026-10-03", n)})
    return out


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crm_outbox")
    for entity, days in _versions().items():
        for day, records in days.items():
            folder = root / "crm" / entity / f"dt={day}"
            folder.mkdir(parents=True)
            lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
            if entity == "customers" and day == "2026-10-01":
                lines.append(lines[0])  # an exact duplicate line
            (folder / f"{entity}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def _expected(entity: str, since: str = "", before: str = "9999") -> list[dict[str, Any]]:
    """Independent oracle: the latest version per id before ``before``, after ``since``, ordered."""
    latest: dict[str, dict[str, Any]] = {}
    for day in DAYS:
        for record in _versions()[entity][day]:
            if record["updated_at"] < before:
                latest[record[ID[entity]]] = record
    ordered = sorted(latest.values(), key=lambda r: (r["updated_at"], r[ID[entity]]))
    return [r for r in ordered if r["updated_at"] > since]


def _read_all(url: str, entity: str, since: datetime | None = None, page_size: int = 7, **kw: Any) -> list[dict]:
    pages = list(iter_pages(url, TOKEN, entity, since, page_size, backoff=0.01, **kw))
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.cursor for p in pages[:-1]) and pages[-1].cursor is None
    return [r for p in pages for r in p.records]


def _get(url: str, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("entity", list(ID))
def test_small_pages_return_every_latest_record_exactly_once(outbox: Path, entity: str) -> None:
    expected = _expected(entity)
    with CrmApiServer(outbox, TOKEN) as api:
        records = _read_all(api.url, entity, page_size=7)
    assert [r[ID[entity]] for r in records] == [r[ID[entity]] for r in expected]  # order (updated_at, id), no repeat
    assert records == expected  # and each is the latest version, as written
    assert [r[ID[entity]] for _, _, r in load_latest(outbox, entity)] == [r[ID[entity]] for r in expected]


def test_updated_since_filters_strictly_after(outbox: Path) -> None:
    boundary = _ts("2026-10-02", 43200)  # every ticket's first version has exactly this updated_at
    with CrmApiServer(outbox, TOKEN) as api:
        after = _read_all(api.url, "tickets", datetime.fromisoformat(boundary), page_size=4)
        customers = _read_all(api.url, "customers", datetime(2026, 10, 2, tzinfo=UTC), page_size=5)
        naive = _read_all(api.url, "customers", datetime(2026, 10, 2), page_size=5)  # naive = UTC
    assert after == _expected("tickets", since=boundary) and {r["status"] for r in after} == {"resolved"}
    assert customers == naive == _expected("customers", since="2026-10-02T00:00:00Z")
    assert len(customers) == 20


def test_as_of_serves_the_versions_before_it(outbox: Path) -> None:
    with CrmApiServer(outbox, TOKEN, as_of=datetime(2026, 10, 2, tzinfo=UTC)) as api:
        records = _read_all(api.url, "customers", page_size=50)
    assert records == _expected("customers", before="2026-10-02")
    assert {r["city"] for r in records} == {"北京市"} and len(records) == 60


def test_faults_at_rate_0_3_are_retried_and_every_record_comes_once(outbox: Path) -> None:
    expected = _expected("customers")
    with CrmApiServer(outbox, TOKEN, rate_429=0.15, rate_5xx=0.15, retry_after=0, seed=3) as api:
        records = _read_all(api.url, "customers", page_size=3, attempts=20)
        answered = dict(api.answered)
    assert records == expected
    assert answered[429] > 0 and sum(n for code, n in answered.items() if code >= 500) > 0
    assert answered[200] == -(-len(expected) // 3)  # one successful answer per page, no page fetched twice


def test_dropped_connections_are_retried(outbox: Path, caplog: pytest.LogCaptureFixture) -> None:
    with CrmApiServer(outbox, TOKEN, rate_drop=0.3, seed=5) as api, caplog.at_level(logging.WARNING):
        records = _read_all(api.url, "subscriptions", page_size=6, attempts=20)
        dropped = api.answered[0]
    assert records == _expected("subscriptions") and dropped > 0
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == dropped and all("/v1/subscriptions" in m for m in retries)


def _seed_with_one_429_first(rate: float) -> int:
    """A seed whose first fault draw answers 429 and whose second does not."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < rate <= rng.random():
            return seed
    raise AssertionError("no such seed")


def test_retry_after_is_honoured(outbox: Path, caplog: pytest.LogCaptureFixture) -> None:
    seed = _seed_with_one_429_first(0.5)
    with CrmApiServer(outbox, TOKEN, rate_429=0.5, retry_after=1, seed=seed) as api, caplog.at_level(logging.WARNING):
        started = time.monotonic()
        pages = list(iter_pages(api.url, TOKEN, "tickets", None, 1000, backoff=0.01))
        waited = time.monotonic() - started
        assert api.answered[429] == 1
    assert waited >= 1.0  # the header said 1 s; the client's own backoff (0.01 s) is shorter
    assert pages[0].retries == 1 and len(pages) == 1
    assert any("HTTP 429" in r.getMessage() and "in 1.0s" in r.getMessage() for r in caplog.records)


def test_a_wrong_token_is_a_user_error_naming_the_connection(outbox: Path) -> None:
    with CrmApiServer(outbox, TOKEN) as api:
        with pytest.raises(UserError, match=r"/v1/customers refused the token \(401\).*Airflow connection crm_api"):
            list(iter_pages(api.url, "wrong", "customers", None, 10))
        assert _get(f"{api.url}/v1/customers", token=None)[0] == 401


def test_exhausted_retries_name_the_url_and_entity(outbox: Path) -> None:
    with CrmApiServer(outbox, TOKEN, rate_5xx=1.0) as api:
        url = api.url
        with pytest.raises(UserError, match=rf"CRM API at {url}/v1/tickets still failed after 3 attempts \(HTTP 50"):
            list(iter_pages(url, TOKEN, "tickets", None, 10, attempts=3, backoff=0.01))


def test_malformed_parameters_are_400_naming_the_parameter(outbox: Path) -> None:
    with CrmApiServer(outbox, TOKEN) as api:
        other = _get(f"{api.url}/v1/tickets?limit=2")[1]["next_cursor"]
        cases = {
            "limit=0": "limit",
            "limit=1001": "limit",
            "limit=ten": "limit",
            "updated_since=yesterday": "updated_since",
            "updated_since=": "updated_since",
            "cursor=not-a-cursor": "cursor",
            f"cursor={other}": "cursor",  # issued for tickets, used on customers
            "updatedSince=2026-10-01": "updatedSince",
            "limit=5&limit=6": "limit",
        }
        answers = {query: _get(f"{api.url}/v1/customers?{query}") for query in cases}
        health = _get(f"{api.url}/health", token=None)
        missing = _get(f"{api.url}/v1/invoices")
    for query, parameter in cases.items():
        status, body = answers[query]
        assert status == 400 and body["parameter"] == parameter and parameter in body["error"], query
    assert "issued for /v1/tickets" in answers[f"cursor={other}"][1]["error"]
    assert health == (200, {"status": "ok", "entities": list(ID)})
    assert missing[0] == 404


def test_a_cursor_stays_valid_when_the_data_changes(outbox: Path) -> None:
    """Keyset, not offset: after a reload with newer versions, paging on misses nothing and repeats nothing
    unchanged; records changed meanwhile come again in their new version."""
    seen: list[tuple[str, str]] = []
    with CrmApiServer(outbox, TOKEN, as_of=datetime(2026, 10, 2, 12, tzinfo=UTC)) as api:
        status, first = _get(f"{api.url}/v1/customers?limit=25")
        assert status == 200 and first["next_cursor"]
        seen += [(r["customer_id"], r["updated_at"]) for r in first["data"]]
        api.reload(as_of=None)  # the CRM moved on: day-2 afternoon and day-3 versions appear
        cursor = first["next_cursor"]
        for _ in range(100):
            status, page = _get(f"{api.url}/v1/customers?limit=25&cursor={cursor}")
            assert status == 200
            seen += [(r["customer_id"], r["updated_at"]) for r in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen))  # no version twice
    final = {(r["customer_id"], r["updated_at"]) for r in _expected("customers")}
    assert final <= set(seen)  # every current version was served
    first_ids = {cid for cid, _ in seen[:25]}
    repeated = {cid for cid, _ in seen[25:] if cid in first_ids}
    changed_later = {r["customer_id"] for r in _expected("customers", since=seen[24][1])}
    assert repeated <= changed_later  # only records that changed after the first page come again


def test_the_simulator_runs_as_a_background_process_with_its_files(outbox: Path, tmp_path: Path) -> None:
    import dataclasses
    import os
    import stat

    from telco_dw import config
    from telco_dw.sources import serve

    cfg = dataclasses.replace(config.load(), home=tmp_path / "home")
    url, token = serve.start_crm_api(cfg, outbox, as_of=datetime(2026, 10, 2, tzinfo=UTC))
    try:
        folder = tmp_path / "home" / "sources"
        assert stat.S_IMODE(os.stat(folder / "crm_api.token").st_mode) == 0o600
        assert (folder / "crm_api.token").read_text().strip() == token and len(token) >= 32
        assert url == f"http://127.0.0.1:{(folder / 'crm_api.port').read_text().strip()}"
        assert serve.crm_api_endpoint(cfg) == (url, token) and serve.status(cfg)["crm_api_running"] is True
        records = [r for p in iter_pages(url, token, "customers", None, 1000) for r in p.records]
        assert records == _expected("customers", before="2026-10-02")
    finally:
        started = time.monotonic()
        assert serve.stop_crm_api(cfg)
        stopped_in = time.monotonic() - started
    assert stopped_in < 5  # SIGTERM ends it cleanly, no SIGKILL after the timeout
    assert serve.crm_api_endpoint(cfg) is None and not serve.stop_crm_api(cfg)
    assert not (tmp_path / "home" / "sources" / "crm_api.pid").exists()


def test_a_kept_alive_connection_closed_by_the_server_is_reopened_at_once(
    outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with CrmApiServer(outbox, TOKEN) as api, caplog.at_level(logging.WARNING):
        pages = iter_pages(api.url, TOKEN, "customers", None, 20, backoff=5.0)
        first = next(pages)
        api.httpd.close_connections()  # as the server's idle timeout would while the loader works
        started = time.monotonic()
        rest = [r for p in pages for r in p.records]
        assert time.monotonic() - started < 2.0  # no 5 s backoff for a stale connection
    assert first.records + rest == _expected("customers")
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retries and all(m.endswith("in 0.0s") for m in retries), caplog.text  # reopened, never backed off


def test_a_retry_after_beyond_the_limit_fails_at_once(outbox: Path) -> None:
    with CrmApiServer(outbox, TOKEN, rate_429=1.0, retry_after=3600) as api:
        started = time.monotonic()
        with pytest.raises(UserError, match=r"/v1/tickets asks to wait 3600 s \(Retry-After\).*run the extraction"):
            list(iter_pages(api.url, TOKEN, "tickets", None, 10, max_retry_after=300))
        assert time.monotonic() - started < 2.0

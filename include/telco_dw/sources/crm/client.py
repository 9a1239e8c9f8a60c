"""Client of the CRM API (the simulator's or a real one with the same paging contract, docs/sources.md).

:func:`iter_pages` yields the pages of records of one entity changed after ``updated_since``.

Guarantees:

- Every record the API holds with ``updated_at`` after ``updated_since`` is yielded exactly once,
  in the API's ``(updated_at, id)`` order, even when the API answers 429, 5xx or drops the
  connection in between: a failed request is repeated with the same cursor, and only a page that
  arrived whole and parsed is yielded. (A record that changes while the pages are read comes again
  later in its new version: that is a new version, not a repeat.)
- Retries are bounded (``attempts`` per request) with exponential backoff (``backoff`` × 2^n, at
  most ``max_backoff``, plus up to 10 % jitter); a ``Retry-After`` is always waited in full (one
  longer than ``max_retry_after`` fails at once instead of holding the task).
  Each retry is logged as a warning with its reason.
- Failures the user must act on raise :class:`~telco_dw.errors.UserError` naming the URL: retries
  exhausted, a refused token (401/403: the token comes from the Airflow connection ``crm_api`` or
  ``CRM_API_TOKEN``; the simulator's is in ``$TELCO_DW_HOME/sources/crm_api.token``), a request the
  API rejects (400/404), or an answer that does not follow the paging contract.
- Bounded: at most ``max_pages`` pages; a cursor that does not move fails instead of looping.

Uses ``http.client`` with one kept-alive connection per :func:`iter_pages` call (no extra dependency).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from telco_dw.errors import UserError

log = logging.getLogger(__name__)

ENTITIES = ("customers", "subscriptions", "tickets")
TOKEN_HINT = (
    "check the password of the Airflow connection crm_api, or CRM_API_TOKEN "
    "(the simulator's token is in $TELCO_DW_HOME/sources/crm_api.token, written by `telco-dw sources serve`)"
)


@dataclass(frozen=True)
class Page:
    """One page: its number (from 1), its records, the cursor after it (None on the last page), and the
    retries it took."""

    number: int
    records: list[dict[str, Any]]
    cursor: str | None
    retries: int = 0


class _Transient(Exception):
    """A failure worth retrying; ``wait`` is the server's Retry-After in seconds, if any; ``stale`` when a
    kept-alive connection was closed by the server (e.g. its idle timeout): retried without delay."""

    def __init__(self, reason: str, wait: float = 0.0, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.wait, self.stale = reason, wait, stale


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); 0 when absent or bad."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _Connection:
    """One kept-alive HTTP(S) connection, reopened after any failure."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(
                f"CRM API URL {base_url!r} is not an http(s) URL; set CRM_API_URL or the crm_api connection"
            )
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One GET: (status, headers, body); raises http.client.HTTPException or OSError, then reconnects."""
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("GET", self.prefix + path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, response.headers, body


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        return str(parsed.get("error", parsed)) if isinstance(parsed, dict) else str(parsed)
    except ValueError:
        return body[:200].decode("utf-8", errors="replace")


def _fetch(conn: _Connection, path: str, url: str, token: str) -> dict[str, Any]:
    """One GET of a page: the parsed body, or _Transient / UserError."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "telco-dw"}
    reused = conn.conn is not None
    try:
        status, response_headers, body = conn.get(path, headers)
    except (http.client.HTTPException, OSError) as exc:
        stale = reused and isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise _Transient(reason, stale=stale) from None
    if status in (401, 403):
        raise UserError(f"the CRM API at {url} refused the token ({status}): {TOKEN_HINT}")
    if status == 429:
        raise _Transient("HTTP 429 (rate limited)", _retry_after(response_headers.get("Retry-After")))
    if status >= 500:
        raise _Transient(f"HTTP {status}", _retry_after(response_headers.get("Retry-After")))
    if status != 200:
        raise UserError(
            f"the CRM API at {url} answered {status}: {_error_text(body)}; the API and this client disagree on the "
            "paging contract (docs/sources.md), or the URL is not the CRM API's"
        )
    try:
        parsed = json.loads(body)
    except ValueError:
        raise _Transient(f"the answer is not JSON ({len(body)} bytes)") from None
    if (
        not isinstance(parsed, dict)
        or not isinstance(parsed.get("data"), list)
        or not isinstance(parsed.get("next_cursor"), str | None)
    ):
        raise UserError(
            f"the CRM API at {url} answered JSON without `data` (list) and `next_cursor` (string or null): "
            "it does not follow the paging contract of docs/sources.md"
        )
    return parsed


def iter_pages(
    base_url: str,
    token: str,
    entity: str,
    updated_since: datetime | None,
    page_size: int = 500,
    *,
    attempts: int = 6,
    backoff: float = 0.5,
    max_backoff: float = 30.0,
    timeout: float = 30.0,
    max_pages: int = 1_000_000,
    max_retry_after: float = 300.0,
) -> Iterator[Page]:
    """Pages of ``entity`` records updated strictly after ``updated_since`` (all when None; naive = UTC).

    See the module docstring for the guarantees. ``page_size`` is the API's ``limit`` (1..1000);
    ``attempts`` counts tries per request (1 = no retry).
    """
    if entity not in ENTITIES:
        raise ValueError(f"unknown CRM entity {entity!r}; one of {', '.join(ENTITIES)}")
    if not 1 <= page_size <= 1000:
        raise ValueError(f"page_size {page_size} is outside 1..1000")
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    url = f"{base_url.rstrip('/')}/v1/{entity}"
    if not token:
        raise UserError(f"no token for the CRM API at {url}: {TOKEN_HINT}")
    params: dict[str, str] = {"limit": str(page_size)}
    if updated_since is not None:
        since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
        params["updated_since"] = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    conn = _Connection(base_url, timeout)
    started = time.monotonic()
    records = total_retries = 0
    cursor: str | None = None
    try:
        for number in range(1, max_pages + 1):
            path = f"/v1/{entity}?{urlencode(dict(params, cursor=cursor) if cursor else params)}"
            body: dict[str, Any] | None = None
            retries = 0
            for attempt in range(1, attempts + 1):
                try:
                    body = _fetch(conn, path, url, token)
                    break
                except _Transient as fault:
                    if attempt == attempts:
                        raise UserError(
                            f"the CRM API at {url} still failed after {attempts} attempts ({fault.reason}) on page "
                            f"{number}; check that it is up (`telco-dw sources status` for the simulator) and retry"
                        ) from None
                    if fault.wait > max_retry_after:
                        raise UserError(
                            f"the CRM API at {url} asks to wait {fault.wait:.0f} s (Retry-After) on page {number}, "
                            f"more than max_retry_after ({max_retry_after:.0f} s): run the extraction again later"
                        ) from None
                    delay = min(max_backoff, backoff * 2 ** (attempt - 1)) * (1 + random.random() * 0.1)
                    delay = 0.0 if fault.stale and attempt == 1 else max(delay, fault.wait)
                    log.warning(
                        "CRM API %s page %d: %s; retry %d/%d in %.1fs",
                        url,
                        number,
                        fault.reason,
                        attempt,
                        attempts - 1,
                        delay,
                    )
                    retries += 1
                    time.sleep(delay)
            assert body is not None
            next_cursor = body["next_cursor"]
            if next_cursor is not None and (next_cursor == cursor or not body["data"]):
                raise UserError(
                    f"the CRM API at {url} answered page {number} with a cursor that does not advance; "
                    "it does not follow the paging contract of docs/sources.md"
                )
            records += len(body["data"])
            total_retries += retries
            yield Page(number, body["data"], next_cursor, retries)
            if next_cursor is None:
                log.info(
                    "CRM API %s: %d records in %d pages (%d retries) in %.1fs",
                    url,
                    records,
                    number,
                    total_retries,
                    time.monotonic() - started,
                )
                return
            cursor = next_cursor
        raise UserError(
            f"the CRM API at {url} still had more after {max_pages} pages of {page_size}; raise max_pages or page_size"
        )
    finally:
        conn.close()

"""Client of the CRM API (the simulator's or the real one's): pages of records changed since a time.

Retries with exponential backoff on 429 (honouring ``Retry-After``), 5xx and dropped connections;
a page is requested again with the same cursor, so every record changed since ``updated_since`` is
yielded exactly once even when faults interleave.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from telco_dw.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    number: int
    records: list[dict[str, Any]]
    cursor: str | None


def _get(url: str, token: str, attempts: int, backoff: float, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    for attempt in range(1, attempts + 1):
        delay = backoff * 2 ** (attempt - 1)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise UserError(
                    f"the CRM API at {url.split('?')[0]} refused the token (401): check the password of the "
                    "Airflow connection crm_api, or CRM_API_TOKEN"
                ) from None
            if exc.code != 429 and exc.code < 500:
                raise UserError(f"the CRM API answered {exc.code} for {url}: {exc.read()[:200]!r}") from None
            retry_after = exc.headers.get("Retry-After")
            if exc.code == 429 and retry_after and retry_after.isdigit():
                delay = max(delay, float(retry_after))
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt == attempts:
            raise UserError(
                f"the CRM API at {url.split('?')[0]} still failed after {attempts} attempts ({reason}); "
                "check that it is up (`telco-dw sources status` for the simulator) and retry"
            )
        log.warning("CRM API %s: %s; retry %d/%d in %.1fs", url.split("?")[0], reason, attempt, attempts - 1, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")


def iter_pages(
    base_url: str,
    token: str,
    entity: str,
    updated_since: datetime | None,
    page_size: int = 500,
    *,
    attempts: int = 6,
    backoff: float = 0.5,
    timeout: float = 30.0,
) -> Iterator[Page]:
    """Pages of ``entity`` records updated after ``updated_since`` (all records when None), in order."""
    params: dict[str, Any] = {"limit": page_size}
    if updated_since is not None:
        params["updated_since"] = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cursor: str | None = None
    number = 0
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = _get(f"{base_url.rstrip('/')}/v1/{entity}?{urlencode(query)}", token, attempts, backoff, timeout)
        number += 1
        cursor = body.get("next_cursor")
        yield Page(number, list(body.get("data", [])), cursor)
        if not cursor:
            return

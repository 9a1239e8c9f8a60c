"""The CRM simulator: an HTTP JSON API over the outbox's CRM change logs, on 127.0.0.1.

``GET /v1/{customers,subscriptions,tickets}?updated_since=<ISO>&limit=<1..1000>&cursor=<opaque>``
answers ``{"data": [...], "next_cursor": "..." | null}``: the latest version of each record changed
after ``updated_since``, ordered by (updated_at, id), paged by a keyset cursor that stays valid while
data changes. ``Authorization: Bearer <token>`` is required (401 otherwise); ``GET /health`` is open.
Faults for testing clients: ``rate_429`` answers 429 with ``Retry-After``; ``rate_5xx`` answers 500,
502 or 503; both seeded.
"""

from __future__ import annotations

import base64
import bisect
import hmac
import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

ENTITIES = {"customers": "customer_id", "subscriptions": "subscription_id", "tickets": "ticket_id"}
MAX_LIMIT = 1000


def load_latest(outbox: Path, entity: str, as_of: datetime | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(updated_at, id, record) of the latest version of each record (before ``as_of``), sorted."""
    key = ENTITIES[entity]
    cut = as_of.strftime("%Y-%m-%dT%H:%M:%SZ") if as_of else None
    latest: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted((outbox / "crm" / entity).glob("dt=*/*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                rid, updated = record.get(key), str(record.get("updated_at") or "")
                if rid is None or (cut is not None and updated >= cut):
                    continue
                if rid not in latest or updated >= latest[rid][0]:
                    latest[rid] = (updated, record)
    return sorted((updated, rid, record) for rid, (updated, record) in latest.items())


def encode_cursor(updated_at: str, rid: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated_at, rid]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    updated_at, rid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    return str(updated_at), str(rid)


class CrmApiServer:
    """The simulator as an object: ``with CrmApiServer(outbox, token) as api: api.url``."""

    def __init__(
        self,
        outbox: Path,
        token: str,
        port: int = 0,
        as_of: datetime | None = None,
        rate_429: float = 0.0,
        rate_5xx: float = 0.0,
        retry_after: int = 1,
        seed: int = 0,
    ) -> None:
        self.token = token
        self.data = {entity: load_latest(outbox, entity, as_of) for entity in ENTITIES}
        self.keys = {entity: [(u, i) for u, i, _ in rows] for entity, rows in self.data.items()}
        self.rate_429, self.rate_5xx, self.retry_after = rate_429, rate_5xx, retry_after
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.answered: Counter[int] = Counter()  # status codes answered, for tests and logs
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> CrmApiServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="crm-api", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> CrmApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def page(self, entity: str, updated_since: str, cursor: str | None, limit: int) -> dict[str, Any]:
        """The page after ``cursor`` (or after ``updated_since``) of ``entity``."""
        keys, rows = self.keys[entity], self.data[entity]
        after = decode_cursor(cursor) if cursor else (updated_since, "\uffff")
        start = bisect.bisect_right(keys, after)
        chunk = rows[start : start + limit]
        more = start + limit < len(rows)
        next_cursor = encode_cursor(chunk[-1][0], chunk[-1][1]) if chunk and more else None
        return {"data": [record for _, _, record in chunk], "next_cursor": next_cursor}

    def _fault(self) -> int | None:
        with self.lock:
            draw = self.rng.random()
            if draw < self.rate_429:
                return 429
            if draw < self.rate_429 + self.rate_5xx:
                return self.rng.choice((500, 502, 503))
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("crm-api %s", format % args)

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                with server.lock:
                    server.answered[status] += 1
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/health":
                    self._send(200, {"status": "ok"})
                    return
                auth = self.headers.get("Authorization", "")
                if not hmac.compare_digest(auth.encode(), f"Bearer {server.token}".encode()):
                    self._send(401, {"error": "missing or wrong bearer token"})
                    return
                entity = parts.path.removeprefix("/v1/")
                if entity not in ENTITIES:
                    self._send(404, {"error": f"unknown resource {parts.path}; use /v1/{{{','.join(ENTITIES)}}}"})
                    return
                fault = server._fault()
                if fault == 429:
                    self._send(429, {"error": "rate limited"}, {"Retry-After": str(server.retry_after)})
                    return
                if fault:
                    self._send(fault, {"error": "transient failure"})
                    return
                query = parse_qs(parts.query)
                try:
                    limit = int(query.get("limit", ["500"])[0])
                    if not 1 <= limit <= MAX_LIMIT:
                        raise ValueError
                except ValueError:
                    self._send(400, {"error": f"limit must be an integer 1..{MAX_LIMIT}", "parameter": "limit"})
                    return
                since = query.get("updated_since", [""])[0]
                if since:
                    try:
                        parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
                        since = parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    except ValueError:
                        self._send(
                            400, {"error": "updated_since must be an ISO 8601 timestamp", "parameter": "updated_since"}
                        )
                        return
                cursor = query.get("cursor", [None])[0]
                try:
                    body = server.page(entity, since, cursor, limit)
                except (ValueError, TypeError):
                    self._send(400, {"error": "cursor is not one this API issued", "parameter": "cursor"})
                    return
                self._send(200, body)

        return Handler


@contextmanager
def serving(outbox: Path, token: str, **options: Any) -> Iterator[CrmApiServer]:
    """Serve ``outbox`` for the duration of a ``with`` block."""
    with CrmApiServer(outbox, token, **options) as api:
        yield api


def main(argv: list[str] | None = None) -> None:
    """``python -m telco_dw.sources.crm.api``: serve an outbox until terminated (used by ``sources serve``)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Serve the simulated CRM API on 127.0.0.1.")
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--as-of", default=None, help="serve versions updated before this ISO time")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    args = parser.parse_args(argv)
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    api = CrmApiServer(
        args.outbox, args.token_file.read_text().strip(), port=args.port, as_of=as_of,
        rate_429=args.rate_429, rate_5xx=args.rate_5xx,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: api.httpd.shutdown())
    print(f"serving {args.outbox} on {api.url}", flush=True)
    api.httpd.serve_forever()
    api.httpd.server_close()


if __name__ == "__main__":
    main()

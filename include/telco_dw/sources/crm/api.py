"""The CRM simulator: an HTTP JSON API over the outbox's CRM change logs, on 127.0.0.1 unless told otherwise.

Interface (the paging contract a real CRM must also follow, docs/sources.md)::

    GET /v1/{customers|subscriptions|tickets}?updated_since=<ISO 8601>&limit=<1..1000, default 500>&cursor=<opaque>
    Authorization: Bearer <token>
    -> 200 {"data": [<record>, ...], "next_cursor": "<opaque>" | null}
    GET /health -> 200 {"status": "ok", ...}  (no token needed)

Guarantees:

- ``data`` holds the latest version of each record (latest ``updated_at`` before the server's
  ``as_of``, if any) whose ``updated_at`` is strictly after ``updated_since``, ordered by
  ``(updated_at, id)``; a record is served as the change log wrote it.
- The cursor is a keyset position (the last ``(updated_at, id)`` of the page, base64 JSON), not an
  offset: asking again with the same cursor returns the same records, and a cursor stays valid when
  the data changes (:meth:`CrmApiServer.reload`): nothing after it is skipped, and a record that
  changed meanwhile comes again later in its new version. ``next_cursor`` is null on the last page.
- Errors are JSON ``{"error": "...", "parameter": "..."}``: 401 without the right bearer token, 400
  for a malformed or unknown query parameter (named in ``parameter``), 404 for an unknown path.
- Faults for testing clients, drawn from a seeded RNG per authorised request: ``rate_429`` answers
  429 with ``Retry-After: <retry_after>``; ``rate_5xx`` answers 500, 502 or 503; ``rate_drop``
  closes the connection without an answer. All default to 0.

The change logs are read once at start (or :meth:`~CrmApiServer.reload`): for each id the latest
version is kept as its JSON line (bytes) with a fixed-width sort key, about 0.5 KB per record, so
100k customers with their subscriptions and tickets fit in a few hundred MB. A version without a
usable ``updated_at`` (dirty ``null_required`` data) is ordered as if changed at the start of its
change-log day and served as it is; a line that is not a JSON object is skipped and counted.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hmac
import json
import logging
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

ENTITIES: dict[str, str] = {"customers": "customer_id", "subscriptions": "subscription_id", "tickets": "ticket_id"}
"""Served entities and the id field of each."""
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SEP = "\x00"  # between the sort key's timestamp and id: sorts below every id character


def sort_ts(value: object) -> str | None:
    """A timestamp as a fixed-width UTC sort key (``YYYY-MM-DDTHH:MM:SS.ffffff``), None when unparsable.

    A naive timestamp is taken as UTC. Equal instants give equal keys whatever their spelling.
    """
    if not isinstance(value, str) or not value:
        return None
    if _CANONICAL.fullmatch(value):
        return value[:-1] + ".000000"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass
class Snapshot:
    """The served versions of one entity: ``keys[i]`` = sort key of ``bodies[i]`` (JSON bytes), ascending."""

    keys: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def load_snapshot(outbox: Path, entity: str, as_of: datetime | None = None) -> Snapshot:
    """The latest version per id of ``entity`` in ``outbox/crm/<entity>/dt=*/<entity>.jsonl``.

    Only versions with ``updated_at`` before ``as_of`` (UTC when naive) count; ties keep the version
    written last. Lines that are not a JSON object or lack an id are skipped and counted.
    """
    key_field = ENTITIES[entity]
    cut = sort_ts(as_of.isoformat()) if as_of is not None else None
    latest: dict[str, tuple[str, bytes]] = {}
    skipped: Counter[str] = Counter()
    for path in sorted((outbox / "crm" / entity).glob("dt=*/*.jsonl")):
        day_start = sort_ts(path.parent.name.removeprefix("dt=") + "T00:00:00") or ""
        with path.open("rb") as handle:
            for line_no, line in enumerate(handle, start=1):
                body = line.strip()
                if not body:
                    continue
                try:
                    record = json.loads(body)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    if not skipped["not a JSON object"]:
                        log.warning("%s line %d is not a JSON object: skipped (counted)", path, line_no)
                    skipped["not a JSON object"] += 1
                    continue
                rid = record.get(key_field)
                if not isinstance(rid, str) or not rid:
                    skipped[f"no {key_field}"] += 1
                    continue
                ts = sort_ts(record.get("updated_at"))
                if ts is None:
                    skipped["no updated_at (ordered by its day)"] += 1
                    ts = day_start
                if cut is not None and ts >= cut:
                    continue
                held = latest.get(rid)
                if held is None or ts >= held[0]:
                    latest[rid] = (ts, body)
    ordered = sorted((ts + _SEP + rid, body) for rid, (ts, body) in latest.items())
    latest.clear()
    snap = Snapshot([k for k, _ in ordered], [b for _, b in ordered], skipped)
    if skipped:
        log.warning("crm %s: %s", entity, dict(skipped))
    return snap


def load_latest(outbox: Path, entity: str, as_of: datetime | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """``(updated_at, id, record)`` of every version the API serves for ``entity``, in served order."""
    snap = load_snapshot(outbox, entity, as_of)
    out = []
    for key, body in zip(snap.keys, snap.bodies, strict=True):
        record = json.loads(body)
        out.append((str(record.get("updated_at") or ""), key.split(_SEP, 1)[1], record))
    return out


def encode_cursor(entity: str, key: str) -> str:
    """The opaque cursor for the position just after sort key ``key`` of ``entity``."""
    ts, rid = key.split(_SEP, 1)
    raw = json.dumps({"v": 1, "e": entity, "u": ts, "i": rid}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(entity: str, cursor: str) -> str:
    """The sort key a cursor points after; ValueError when this API did not issue it for ``entity``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("cursor is not one this API issued") from exc
    if not isinstance(data, dict) or data.get("v") != 1 or not all(isinstance(data.get(k), str) for k in "eui"):
        raise ValueError("cursor is not one this API issued")
    if data["e"] != entity:
        raise ValueError(f"cursor was issued for /v1/{data['e']}, not /v1/{entity}")
    return str(data["u"]) + _SEP + str(data["i"])


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can close its open keep-alive connections when stopped."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CrmApiServer:
    """The simulator as an object, on 127.0.0.1: ``with CrmApiServer(outbox, token) as api: api.url``.

    ``port=0`` picks a free port; ``host`` is the address to listen on (``0.0.0.0`` in a container,
    where other containers call it). The constructor reads the outbox and binds the port; :meth:`start`
    serves in a background thread; :meth:`stop` closes the socket and every open connection.
    """

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
        rate_drop: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        if not token:
            raise ValueError("the CRM API needs a non-empty bearer token")
        for name, rate in (("rate_429", rate_429), ("rate_5xx", rate_5xx), ("rate_drop", rate_drop)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}={rate} is not a probability in [0, 1]")
        if rate_429 + rate_5xx + rate_drop > 1.0:
            raise ValueError("rate_429 + rate_5xx + rate_drop must not exceed 1")
        self.outbox = Path(outbox)
        self.token = token
        self.rate_429, self.rate_5xx, self.rate_drop, self.retry_after = rate_429, rate_5xx, rate_drop, retry_after
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.answered: Counter[int] = Counter()
        """Status codes answered (0 = connection dropped), for tests and logs."""
        self.records_served = 0
        self.as_of: datetime | None = None
        self.snapshots: dict[str, Snapshot] = {}
        self.reload(as_of)
        self.host = host
        self.httpd = _Server((host, port), self._handler())
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (``127.0.0.1`` when listening on every address)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.httpd.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def reload(self, as_of: datetime | None = None) -> dict[str, int]:
        """Re-read the outbox (versions before ``as_of``) and swap it in atomically; cursors stay valid.

        Returns the records now served per entity.
        """
        started = time.monotonic()
        snapshots = {entity: load_snapshot(self.outbox, entity, as_of) for entity in ENTITIES}
        with self.lock:
            self.snapshots, self.as_of = snapshots, as_of
        counts = {entity: len(s.keys) for entity, s in snapshots.items()}
        log.info(
            "CRM API loaded %s from %s (as of %s) in %.1fs",
            counts,
            self.outbox,
            as_of.isoformat() if as_of else "the end",
            time.monotonic() - started,
        )
        return counts

    def start(self) -> CrmApiServer:
        """Serve in a daemon thread; returns self."""
        if self.thread is None:
            self.thread = threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="crm-api", daemon=True
            )
            self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and open connections. Safe to call twice."""
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread.join(timeout=10)
            self.thread = None
        self.httpd.close_connections()
        self.httpd.server_close()

    def __enter__(self) -> CrmApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def page(self, entity: str, updated_since: str | None, cursor: str | None, limit: int) -> bytes:
        """The JSON body of the page of ``entity`` after ``cursor`` and after ``updated_since`` (a sort key).

        Raises ValueError for a cursor this API did not issue for ``entity``.
        """
        with self.lock:
            snap = self.snapshots[entity]
        keys = snap.keys
        start = 0
        if updated_since is not None:
            start = bisect.bisect_right(keys, updated_since + "\x01")
        if cursor:
            start = max(start, bisect.bisect_right(keys, decode_cursor(entity, cursor)))
        end = min(start + limit, len(keys))
        next_cursor = json.dumps(encode_cursor(entity, keys[end - 1])) if end < len(keys) and end > start else "null"
        with self.lock:
            self.records_served += end - start
        return b'{"data":[' + b",".join(snap.bodies[start:end]) + b'],"next_cursor":' + next_cursor.encode() + b"}"

    def _fault(self) -> int | None:
        """The fault to answer this request with (429, 5xx, 0 = drop), or None."""
        if not (self.rate_429 or self.rate_5xx or self.rate_drop):
            return None
        with self.lock:
            draw = self.rng.random()
            if draw < self.rate_429:
                return 429
            if draw < self.rate_429 + self.rate_5xx:
                return self.rng.choice((500, 502, 503))
            if draw < self.rate_429 + self.rate_5xx + self.rate_drop:
                return 0
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: a client pages over one connection
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
            timeout = 60  # an idle kept-alive connection is closed after this many seconds
            server_version = "telco-dw-crm-sim/1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("crm-api %s", format % args)

            def _send(self, status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> None:
                with server.lock:
                    server.answered[status] += 1
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _bad(self, parameter: str, message: str) -> None:
                self._send(400, {"error": f"query parameter {parameter}: {message}", "parameter": parameter})

            def _not_allowed(self) -> None:
                self.close_connection = True  # the request body, if any, is not read
                self._send(
                    405, {"error": f"{self.command} is not supported; the API is read-only (GET)"}, {"Allow": "GET"}
                )

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _not_allowed

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/health":
                    self._send(200, {"status": "ok", "entities": list(ENTITIES)})
                    return
                auth = self.headers.get("Authorization", "")
                if not hmac.compare_digest(auth.encode(), f"Bearer {server.token}".encode()):
                    self._send(
                        401,
                        {"error": "missing or wrong bearer token (send `Authorization: Bearer <token>`)"},
                        {"WWW-Authenticate": 'Bearer realm="crm"'},
                    )
                    return
                entity = parts.path.removeprefix("/v1/")
                if not parts.path.startswith("/v1/") or entity not in ENTITIES:
                    self._send(404, {"error": f"unknown resource {parts.path}; use /v1/{{{','.join(ENTITIES)}}}"})
                    return
                fault = server._fault()
                if fault == 0:
                    with server.lock:
                        server.answered[0] += 1
                    self.close_connection = True  # dropped: no status line at all
                    return
                if fault == 429:
                    self._send(429, {"error": "rate limited"}, {"Retry-After": str(server.retry_after)})
                    return
                if fault:
                    self._send(fault, {"error": "transient failure (simulated)"})
                    return
                try:
                    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
                except ValueError:
                    self._bad("query", f"cannot parse {parts.query!r}")
                    return
                for name, values in query.items():
                    if name not in ("limit", "updated_since", "cursor"):
                        self._bad(name, "unknown; the parameters are updated_since, limit and cursor")
                        return
                    if len(values) > 1:
                        self._bad(name, "given more than once")
                        return
                raw_limit = query.get("limit", [str(DEFAULT_LIMIT)])[0]
                if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
                    self._bad("limit", f"{raw_limit!r} is not an integer 1..{MAX_LIMIT}")
                    return
                since: str | None = None
                if "updated_since" in query:
                    since = sort_ts(query["updated_since"][0])
                    if since is None:
                        self._bad(
                            "updated_since",
                            f"{query['updated_since'][0]!r} is not an ISO 8601 timestamp (e.g. 2026-10-03T14:05:09Z)",
                        )
                        return
                cursor = query.get("cursor", [None])[0]
                try:
                    body = server.page(entity, since, cursor, int(raw_limit))
                except ValueError as exc:
                    self._bad("cursor", f"{exc}; start again without a cursor")
                    return
                self._send(200, body)

        return Handler


@contextmanager
def serving(outbox: Path, token: str, **options: Any) -> Iterator[CrmApiServer]:
    """Serve ``outbox`` for the duration of a ``with`` block (options as for :class:`CrmApiServer`)."""
    with CrmApiServer(outbox, token, **options) as api:
        yield api


def main(argv: list[str] | None = None) -> None:
    """``python -m telco_dw.sources.crm.api``: serve an outbox until SIGTERM/SIGINT (``sources serve`` runs it)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Serve the simulated CRM API (on 127.0.0.1 by default).")
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every address)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--token-file", type=Path, required=True, help="file holding the bearer token")
    parser.add_argument("--as-of", default=None, help="serve versions updated before this ISO time (UTC)")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--rate-5xx", type=float, default=0.0)
    parser.add_argument("--rate-drop", type=float, default=0.0)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    api = CrmApiServer(
        args.outbox,
        args.token_file.read_text().strip(),
        port=args.port,
        as_of=as_of,
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        rate_drop=args.rate_drop,
        retry_after=args.retry_after,
        seed=args.seed,
        host=args.host,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    api.start()
    log.info("serving %s on %s", args.outbox, api.url)
    stopping.wait()
    api.stop()
    log.info("stopped (answered %s, %d records served)", dict(api.answered), api.records_served)


if __name__ == "__main__":
    main()

"""Land source files into ``raw_<source>`` tables with COPY, one batch per file.

Guarantees, per file:
- the file is streamed to PostgreSQL (never held whole in memory);
- the batch and its ledger row in ``audit.load_batches`` commit together or not at all;
- a file already landed with the same checksum is skipped (a redelivery lands nothing twice);
- a file whose content changed replaces its earlier batch in the same transaction;
- a header that does not match the declared columns fails with the file and the columns named.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.errors import UserError
from telco_dw.load import ddl
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

_PARTITION = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """A file waiting in the landing area for one raw table."""

    table: Table
    path: Path
    partition: date | None

    def relative_to(self, landing: Path) -> str:
        return self.path.relative_to(landing).as_posix()


@dataclass(frozen=True)
class BatchResult:
    """What landing one file did."""

    table: str
    source_file: str
    status: str  # landed | skipped (already landed, same checksum)
    rows_read: int
    rows_landed: int
    seconds: float


def discover(landing: Path, source: str, before: date | None = None) -> list[SourceFile]:
    """Files of ``source`` under ``landing/<source>/<table>/dt=*/``, oldest partition first.

    ``before`` (exclusive) leaves that day's and later partitions for later runs, so a run keyed on
    a data interval lands only the days that had ended when the interval ended.
    """
    found: list[SourceFile] = []
    for table in sources.tables(source):
        folder = landing / source / table.name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.csv")):
            match = _PARTITION.search(path.as_posix())
            partition = date.fromisoformat(match.group(1)) if match else None
            if before is not None and partition is not None and partition >= before:
                continue
            found.append(SourceFile(table=table, path=path, partition=partition))
    found.sort(key=lambda f: (f.partition or date.min, f.table.name, f.path.as_posix()))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_header(file: SourceFile, header_line: bytes) -> None:
    try:
        header = next(csv.reader(io.StringIO(header_line.decode("utf-8"))))
    except (UnicodeDecodeError, StopIteration) as exc:
        raise UserError(
            f"{file.path}: cannot read the CSV header line ({exc}); expected {list(file.table.column_names)}"
        ) from exc
    expected = list(file.table.column_names)
    if header != expected:
        missing = [c for c in expected if c not in header]
        extra = [c for c in header if c not in expected]
        raise UserError(
            f"{file.path}: columns do not match {file.table.qualified} "
            f"(missing: {missing or 'none'}, unexpected: {extra or 'none'}, order differs: "
            f"{not missing and not extra}); fix the export or declare the change in "
            f"telco_dw/sources/{file.table.source}/schema.py"
        )


def _stream(handle: io.BufferedReader) -> Iterator[bytes]:
    yield from iter(lambda: handle.read(_CHUNK), b"")


def land_file(conn: psycopg.Connection, file: SourceFile, landing: Path) -> BatchResult:
    """Land one file as one batch (see the module guarantees). ``conn`` must be in autocommit mode."""
    started = time.monotonic()
    table = file.table
    rel = file.relative_to(landing)
    sha = _sha256(file.path)
    size = file.path.stat().st_size
    existing = conn.execute(
        "select batch_id, file_sha256 from audit.load_batches where target_table = %s and source_file = %s",
        (table.qualified, rel),
    ).fetchone()
    if existing is not None and existing[1] == sha:
        return BatchResult(table.qualified, rel, "skipped", 0, 0, time.monotonic() - started)

    batch_id = str(uuid.uuid4())
    cols = ", ".join(table.column_names)
    casts = ", ".join(f"{c.name}::{c.type}" for c in table.columns)
    try:
        with conn.transaction():
            if existing is not None:
                conn.execute(f"delete from {table.qualified} where _batch_id = %s", (existing[0],))
                conn.execute("delete from audit.load_batches where batch_id = %s", (existing[0],))
            conn.execute(
                "create temp table _stage (_row_number bigint generated always as identity, "
                + ", ".join(f"{c} text" for c in table.column_names)
                + ") on commit drop"
            )
            with file.path.open("rb") as handle:
                _check_header(file, handle.readline())
                with conn.cursor().copy(f"copy _stage ({cols}) from stdin with (format csv)") as copy:
                    for chunk in _stream(handle):  # type: ignore[arg-type]
                        copy.write(chunk)
            landed = conn.execute(
                f"insert into {table.qualified} ({cols}, _batch_id, _loaded_at, _source_file, _row_number) "
                f"select {casts}, %s, now(), %s, _row_number from _stage",
                (batch_id, rel),
            ).rowcount
            conn.execute(
                "insert into audit.load_batches (batch_id, source, target_table, source_file, file_bytes, "
                "file_sha256, interval_start, interval_end, rows_read, rows_landed, rows_quarantined, status, "
                "started_at, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 'landed', "
                "now() - make_interval(secs => %s), now())",
                (
                    batch_id,
                    table.source,
                    table.qualified,
                    rel,
                    size,
                    sha,
                    file.partition,
                    file.partition,
                    landed,
                    landed,
                    time.monotonic() - started,
                ),
            )
    except UserError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{file.path}: landing into {table.qualified} failed: {first}") from exc
    return BatchResult(table.qualified, rel, "landed", landed, landed, time.monotonic() - started)


def land_source(conn: psycopg.Connection, landing: Path, source: str, before: date | None = None) -> list[BatchResult]:
    """Land every file of ``source`` present in ``landing`` with a partition before ``before``.

    Idempotent: running it again lands nothing new unless a file is new or changed.
    """
    conn.autocommit = True  # each file is its own transaction (see land_file)
    if not landing.is_dir():
        raise UserError(
            f"landing folder {landing} does not exist: generate data with `telco-dw simulate` or set LANDING_URL"
        )
    with conn.transaction():
        ddl.ensure_all(conn)
    results = []
    files = discover(landing, source, before)
    log.info("%s: %d file(s) in %s before %s", source, len(files), landing / source, before or "any date")
    for n, file in enumerate(files, start=1):
        result = land_file(conn, file, landing)
        results.append(result)
        log.info(
            "%s [%d/%d] %s -> %s: %s, %d rows in %.2fs",
            source,
            n,
            len(files),
            result.source_file,
            result.table,
            result.status,
            result.rows_landed,
            result.seconds,
        )
    return results

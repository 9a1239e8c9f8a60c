"""Land one batch of source rows into a raw table: typed rows in, bad rows to quarantine, one ledger row.

A batch is whatever one source reference delivered: a file, or one extraction of an API or database
table for a data interval. Guarantees, per batch:
- rows are streamed into PostgreSQL with COPY (never held whole in memory);
- every row read ends up either in the raw table or in ``quarantine.<source>`` with a reason
  (unparsable, a required value missing, a value that is not of its type, a value out of range),
  and the ledger row says so: rows_read = rows_landed + rows_quarantined;
- the batch, its quarantined rows and its ledger row commit together or not at all;
- a source reference already landed with the same checksum is skipped (a redelivery lands nothing
  twice); a changed one replaces its earlier batch in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telco_dw.errors import UserError
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Row:
    """One source row: its values in declared column order, or why it could not be parsed."""

    number: int
    values: list[str | None] | None
    raw: str | None = None
    reason: str | None = None


@dataclass
class Batch:
    """One source reference's rows for one raw table."""

    table: Table
    source_ref: str
    checksum: str | None
    """Content checksum known before reading (files): an unchanged redelivery is skipped. None for
    extracts (API, database): the batch always replaces the earlier one of the same reference."""
    rows: Iterable[Row]
    size_bytes: int = 0
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    after: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    """Statements run inside the batch's transaction once it landed (e.g. moving a watermark)."""


@dataclass(frozen=True)
class BatchResult:
    table: str
    source_ref: str
    status: str  # landed | skipped
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    seconds: float
    notes: dict[str, Any]


def _reason_sql(table: Table) -> str:
    """SQL giving, for a stage row, why it cannot land (null when it can)."""
    parts = []
    for c in table.columns:
        if c.required:
            parts.append(f"case when s.{c.name} is null then '{c.name}: required value missing' end")
        if c.type != "text":
            parts.append(
                f"case when s.{c.name} is not null and not pg_input_is_valid(s.{c.name}, '{c.type}') "
                f"then '{c.name}: ' || left(quote_literal(s.{c.name}), 40) || ' is not a valid {c.type}' end"
            )
    checked = [c for c in table.columns if c.check]
    for c in checked:
        cast = f"s.{c.name}::{c.type}" if c.type != "text" else f"s.{c.name}"
        parts.append(
            f"case when s.{c.name} is not null and {_valid(table, c.name)} and not ({cast} {c.check}) "
            f"then '{c.name}: ' || s.{c.name} || ' out of range (must be {c.check})' end"
        )
    for description, condition in table.checks:
        typed = condition
        for c in table.columns:
            typed = _replace_word(typed, c.name, f"s.{c.name}::{c.type}")
        guard = " and ".join(_valid(table, c.name) for c in table.columns if c.name in condition)
        parts.append(f"case when {guard or 'true'} and not ({typed}) then 'row: {description}' end")
    return "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')" if parts else "null::text"


def _valid(table: Table, name: str) -> str:
    column = next(c for c in table.columns if c.name == name)
    if column.type == "text":
        return "true"
    return f"(s.{name} is null or pg_input_is_valid(s.{name}, '{column.type}'))"


def _replace_word(text: str, word: str, replacement: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", replacement, text)


def land_batch(conn: psycopg.Connection, batch: Batch) -> BatchResult:
    """Land ``batch`` (see the module guarantees). ``conn`` must be in autocommit mode."""
    started = time.monotonic()
    table = batch.table
    existing = conn.execute(
        "select batch_id, file_sha256 from audit.load_batches where target_table = %s and source_file = %s",
        (table.qualified, batch.source_ref),
    ).fetchone()
    if existing is not None and batch.checksum is not None and existing[1] == batch.checksum:
        return BatchResult(table.qualified, batch.source_ref, "skipped", 0, 0, 0, time.monotonic() - started, {})
    batch_id = str(uuid.uuid4())
    names = table.column_names
    cols = ", ".join(names)
    reason = _reason_sql(table)
    casts = ", ".join(f"s.{c.name}::{c.type}" for c in table.columns)
    unparsable = 0
    try:
        with conn.transaction():
            if existing is not None:
                conn.execute(f"delete from {table.qualified} where _batch_id = %s", (existing[0],))
                conn.execute(f"delete from quarantine.{table.source} where batch_id = %s", (existing[0],))
                conn.execute("delete from audit.load_batches where batch_id = %s", (existing[0],))
            conn.execute(
                "create temp table _stage (_row_number bigint, "
                + ", ".join(f"{c} text" for c in names)
                + ") on commit drop"
            )
            bad: list[Row] = []
            digest = hashlib.sha256()
            with conn.cursor().copy(f"copy _stage (_row_number, {cols}) from stdin") as copy:
                for row in batch.rows:
                    digest.update(repr(row.values if row.values is not None else row.raw).encode())
                    if row.values is None:
                        bad.append(row)
                        if len(bad) >= 1000:
                            unparsable += _quarantine_unparsed(conn, batch, batch_id, bad)
                            bad = []
                        continue
                    copy.write_row([row.number, *row.values])
            unparsable += _quarantine_unparsed(conn, batch, batch_id, bad)
            quarantined = conn.execute(
                f"insert into quarantine.{table.source} (batch_id, target_table, source_ref, row_number, reason, "
                f"raw_record) select %s, %s, %s, s._row_number, r.reason, to_jsonb(s) - '_row_number' "
                f"from _stage s cross join lateral (select {reason} as reason) r where r.reason is not null",
                (batch_id, table.qualified, batch.source_ref),
            ).rowcount
            landed = conn.execute(
                f"insert into {table.qualified} ({cols}, _batch_id, _loaded_at, _source_file, _row_number) "
                f"select {casts}, %s, now(), %s, s._row_number from _stage s where {reason} is null",
                (batch_id, batch.source_ref),
            ).rowcount
            total_quarantined = quarantined + unparsable
            for statement, params in batch.after:
                conn.execute(statement, params)
            conn.execute(
                "insert into audit.load_batches (batch_id, source, target_table, source_file, file_bytes, "
                "file_sha256, interval_start, interval_end, rows_read, rows_landed, rows_quarantined, status, "
                "notes, started_at, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'landed', "
                "%s, now() - make_interval(secs => %s), now())",
                (
                    batch_id, table.source, table.qualified, batch.source_ref, batch.size_bytes,
                    batch.checksum or digest.hexdigest(),
                    batch.interval_start, batch.interval_end, landed + total_quarantined, landed,
                    total_quarantined, json.dumps(batch.notes), time.monotonic() - started,
                ),
            )  # fmt: skip
    except UserError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{batch.source_ref}: landing into {table.qualified} failed: {first}") from exc
    result = BatchResult(
        table.qualified, batch.source_ref, "landed", landed + total_quarantined, landed, total_quarantined,
        time.monotonic() - started, batch.notes,
    )  # fmt: skip
    return result


def _quarantine_unparsed(conn: psycopg.Connection, batch: Batch, batch_id: str, rows: list[Row]) -> int:
    if not rows:
        return 0
    with conn.cursor().copy(
        f"copy quarantine.{batch.table.source} (batch_id, target_table, source_ref, row_number, reason, raw_text) "
        "from stdin"
    ) as copy:
        for row in rows:
            copy.write_row([batch_id, batch.table.qualified, batch.source_ref, row.number, row.reason, row.raw])
    return len(rows)

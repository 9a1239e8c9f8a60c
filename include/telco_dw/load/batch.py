"""Land one batch of source rows into a raw table: typed rows in, bad rows to quarantine, one ledger row.

A batch is whatever one source reference delivered: a file, or one extraction of an API or database
table for a data interval. Guarantees, per batch:
- rows are streamed into PostgreSQL with COPY (never held whole in memory); a CSV file whose bytes
  PostgreSQL can read as they are (:class:`CsvStream`) is copied in chunks without parsing it in
  Python: straight into the raw table's typed columns when its header names exactly the declared
  columns and every value has its type (the fast path), else as text into the stage, and falls back
  to the row-by-row path when COPY refuses its structure or encoding;
- every row read ends up either in the raw table or in ``quarantine.<source>`` with a reason
  (unparsable, a required value missing, a value that is not of its type, a value out of range),
  and the ledger row says so: rows_read = rows_landed + rows_quarantined (counted independently
  and checked before commit);
- values a source set to null on purpose (a mapping's ``on_error: null``) land null, and each such
  issue is kept in ``quarantine.column_issues`` with the row and column;
- the batch, its quarantined rows, its issues and its ledger row commit together or not at all;
- a source reference already landed with the same checksum is skipped (a redelivery lands nothing
  twice); a changed one replaces its earlier batch in the same transaction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telco_dw.errors import UserError
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

_INTERNAL = ("_row_number", "_raw", "_reason", "_issues")
"""Stage columns besides the source's: row number, raw text and reason of an unparsable row, issues."""


@dataclass(frozen=True)
class Row:
    """One source row: its values in declared column order, or why it could not be parsed.

    ``issues`` are ``(column, reason)`` pairs for values the source mapping set to null on purpose;
    the row still lands, and the issues are recorded.
    """

    number: int
    values: list[str | None] | None
    raw: str | None = None
    reason: str | None = None
    issues: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CsvStream:
    """UTF-8, comma-separated CSV bytes that COPY can read as they are: a file, or another server's
    ``COPY ... TO STDOUT``.

    ``columns`` names, per column of the file in order, its header name (declared or not);
    ``chunks()`` yields the bytes after the header line (called once per COPY attempt, each time from
    the start). When COPY into the typed columns refuses the bytes (a value not of its type), they are
    staged as text; when that is refused too (a malformed line, bad encoding), the batch is landed
    through ``Batch.rows``. ``empty_is_null``: a quoted empty field (``""``) is null, as an empty
    field of a file is (``force_null``); False for bytes PostgreSQL wrote, where ``""`` is an empty
    string and only an unquoted empty field is null.
    """

    columns: tuple[str, ...]
    chunks: Callable[[], Iterator[bytes]]
    empty_is_null: bool = True

    def copy_options(self, listed: str) -> str:
        """COPY's options for these bytes, ``listed`` the quoted column list."""
        return "format csv, encoding 'UTF8'" + (f", force_null ({listed})" if self.empty_is_null else "")


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
    csv: CsvStream | None = None
    """The fast path for a CSV file (see :class:`CsvStream`); ``rows`` stays the reference path."""


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
    batch_id: str | None = None
    """The ledger's id of the landed batch (``audit.load_batches.batch_id``, ``_batch_id`` in the raw table);
    None when skipped."""


def _valid(table: Table, name: str) -> str:
    column = next(c for c in table.columns if c.name == name)
    if column.type == "text":
        return "true"
    return f"(s.{name} is null or pg_input_is_valid(s.{name}, '{column.type}'))"


def _replace_word(text: str, word: str, replacement: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", replacement, text)


def _typed_checks(table: Table) -> list[tuple[str, str, str]]:
    """(guard, condition on typed values, reason) of every declared range and row check."""
    out = []
    for c in table.columns:
        if c.check:
            cast = f"s.{c.name}::{c.type}" if c.type != "text" else f"s.{c.name}"
            out.append(
                (
                    f"s.{c.name} is not null and {_valid(table, c.name)}",
                    f"{cast} {c.check}",
                    f"'{c.name}: ' || s.{c.name} || ' out of range (must be {c.check})'",
                )
            )
    for description, condition in table.checks:
        typed = condition
        for c in table.columns:
            typed = _replace_word(typed, c.name, f"s.{c.name}::{c.type}")
        guard = " and ".join(_valid(table, c.name) for c in table.columns if c.name in condition) or "true"
        out.append((guard, typed, f"'row: {description}'"))
    return out


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
    for guard, condition, reason in _typed_checks(table):
        parts.append(f"case when {guard} and not ({condition}) then {reason} end")
    return "nullif(concat_ws('; ', " + ", ".join(parts) + "), '')" if parts else "null::text"


def _landable_sql(table: Table) -> str:
    """SQL true exactly when a stage row can land (the cheap twin of :func:`_reason_sql`, never null)."""
    parts = ["s._reason is null"]
    for c in table.columns:
        if c.required:
            parts.append(f"s.{c.name} is not null")
        if c.type != "text":
            parts.append(_valid(table, c.name))
    for guard, condition, _ in _typed_checks(table):
        parts.append(f"(case when {guard} then coalesce(({condition}), true) else true end)")
    return " and ".join(parts)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def land_batch(conn: psycopg.Connection, batch: Batch) -> BatchResult:
    """Land ``batch`` (see the module guarantees). ``conn`` must be in autocommit mode."""
    started = time.monotonic()
    table = batch.table
    batch_id = str(uuid.uuid4())
    names = table.column_names
    cols = ", ".join(names)
    casts = ", ".join(f"s.{c.name}::{c.type}" for c in table.columns)
    extra = [c for c in (batch.csv.columns if batch.csv else ()) if c not in names]
    passes: list[Any] = []  # a digest per pass over the CSV bytes of an extract (no checksum known before)
    if batch.csv is not None and batch.checksum is None:
        batch = dataclasses.replace(batch, csv=dataclasses.replace(batch.csv, chunks=_hashed(batch.csv.chunks, passes)))
    try:
        with conn.transaction():
            # one batch of a reference at a time (concurrent runs, a backfill): the second waits, then
            # sees the first's ledger row and skips or replaces it
            conn.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{table.qualified}|{batch.source_ref}",)
            )
            existing = conn.execute(
                "select batch_id, file_sha256 from audit.load_batches where target_table = %s and source_file = %s",
                (table.qualified, batch.source_ref),
            ).fetchone()
            if existing is not None and batch.checksum is not None and existing[1] == batch.checksum:
                return BatchResult(
                    table.qualified, batch.source_ref, "skipped", 0, 0, 0, time.monotonic() - started, {}
                )
            if existing is not None:
                conn.execute(f"delete from {table.qualified} where _batch_id = %s", (existing[0],))
                conn.execute(f"delete from quarantine.{table.source} where batch_id = %s", (existing[0],))
                conn.execute("delete from quarantine.column_issues where batch_id = %s", (existing[0],))
                conn.execute("delete from audit.load_batches where batch_id = %s", (existing[0],))
            conn.execute(
                "create temp table _stage (_row_number bigint generated by default as identity, "
                + ", ".join(f"{_ident(c)} text" for c in (*names, *extra))
                + ", _raw text, _reason text, _issues text) on commit drop"
            )
            fast = _copy_typed(conn, batch, batch_id) if batch.csv is not None else None
            if fast is not None:
                read, landed, quarantined = fast
                has_issues, digest = False, None
            else:
                copied = _copy_csv(conn, batch) if batch.csv is not None else None
                if copied is None:
                    read, has_issues, digest = _copy_rows(conn, batch)
                else:
                    read, has_issues, digest = copied, False, None
                quarantined = _quarantine_stage(conn, batch, batch_id)
                landed = conn.execute(
                    f"insert into {table.qualified} ({cols}, _batch_id, _loaded_at, _source_file, _row_number) "
                    f"select {casts}, %s, now(), %s, s._row_number from _stage s where {_landable_sql(table)}",
                    (batch_id, batch.source_ref),
                ).rowcount
            if landed + quarantined != read:  # a bug, never the data: refuse to commit an unbalanced batch
                raise UserError(
                    f"{batch.source_ref}: {read} rows read but {landed} landed + {quarantined} quarantined; "
                    "nothing of this batch was committed (please report this)"
                )
            if has_issues:
                conn.execute(
                    "insert into quarantine.column_issues (batch_id, target_table, source_ref, row_number, "
                    "column_name, reason) select %s, %s, %s, s._row_number, i ->> 0, i ->> 1 "
                    "from _stage s cross join lateral jsonb_array_elements(s._issues::jsonb) i "
                    "where s._issues is not null",
                    (batch_id, table.qualified, batch.source_ref),
                )
            for statement, params in batch.after:
                conn.execute(statement, params)
            conn.execute(
                "insert into audit.load_batches (batch_id, source, target_table, source_file, file_bytes, "
                "file_sha256, interval_start, interval_end, rows_read, rows_landed, rows_quarantined, status, "
                "notes, started_at, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'landed', "
                "%s, now() - make_interval(secs => %s), now())",
                (
                    batch_id, table.source, table.qualified, batch.source_ref, batch.size_bytes,
                    batch.checksum or _checksum(digest or (passes[-1] if passes else None)),
                    batch.interval_start, batch.interval_end, read, landed, quarantined,
                    json.dumps(batch.notes, ensure_ascii=False), time.monotonic() - started,
                ),
            )  # fmt: skip
    except UserError as exc:
        exc.source_ref = exc.source_ref or batch.source_ref
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{batch.source_ref}: landing into {table.qualified} failed: {first}", source_ref=batch.source_ref
        ) from exc
    return BatchResult(
        table.qualified, batch.source_ref, "landed", read, landed, quarantined, time.monotonic() - started,
        batch.notes, batch_id,
    )  # fmt: skip


def _checksum(digest: Any) -> str:
    return digest.hexdigest() if digest is not None else ""


def _hashed(chunks: Callable[[], Iterator[bytes]], passes: list[Any]) -> Callable[[], Iterator[bytes]]:
    """``chunks``, each pass also hashing its bytes into a new SHA-256 appended to ``passes`` (the last
    pass is the one whose rows landed: the ledger's checksum of an extract that took a COPY path)."""

    def hashed() -> Iterator[bytes]:
        digest = hashlib.sha256()
        passes.append(digest)
        for chunk in chunks():
            digest.update(chunk)
            yield chunk

    return hashed


def _quarantine_stage(conn: psycopg.Connection, batch: Batch, batch_id: str) -> int:
    """Move every stage row that cannot land to ``quarantine.<source>`` with its reasons; how many."""
    table = batch.table
    return conn.execute(
        f"insert into quarantine.{table.source} (batch_id, target_table, source_ref, row_number, reason, "
        f"raw_record, raw_text) select %s, %s, %s, s._row_number, coalesce(s._reason, {_reason_sql(table)}), "
        f"case when s._reason is null then to_jsonb(s) - '{{{','.join(_INTERNAL)}}}'::text[] end, s._raw "
        f"from _stage s where not ({_landable_sql(table)})",
        (batch_id, table.qualified, batch.source_ref),
    ).rowcount


def _landable_typed_sql(table: Table) -> str:
    """SQL on a raw table's typed columns true exactly when :func:`_landable_sql` is for their text.

    Every value already has its type (COPY cast it), so what is left are required values and checks; a
    check that is null (a null operand) passes, as in :func:`_landable_sql`.
    """
    parts = [f"{c.name} is not null" for c in table.columns if c.required]
    parts += [f"coalesce(({c.name} {c.check}), true)" for c in table.columns if c.check]
    parts += [f"coalesce(({condition}), true)" for _, condition in table.checks]
    return " and ".join(parts) or "true"


class _Refused(Exception):
    """The fast path cannot land this file; roll back to its savepoint and use the stage."""


def _copy_typed(conn: psycopg.Connection, batch: Batch, batch_id: str) -> tuple[int, int, int] | None:
    """COPY a CSV file's bytes straight into the raw table; (read, landed, quarantined), or None.

    The fast path for a file whose header names exactly the declared columns. The server casts each
    value to its column's type, fills the metadata columns from their defaults (see
    :func:`telco_dw.load.ddl.raw_table_ddl`: this batch's id and file, now(), and a sequence restarted
    at 0 for this file, so ``_row_number`` is the data row's number as in the stage) and keeps only the
    rows that pass every required/range/row check (``COPY ... where``). Rows read are counted by that
    sequence (every parsed row takes a number, kept or not), rows landed by COPY.

    When rows were left out, the file is COPYed again as text into the stage and its rows that cannot
    land are quarantined by the stage path's own statement, so reasons and raw records are exactly the
    stage path's (typed values would lose the source text: ``-5`` becomes ``-5.00``). When COPY refuses
    the file (a value not of its type, a malformed line, bad encoding), everything since the savepoint
    is rolled back and None returned: the stage path lands the file.
    """
    import psycopg

    from telco_dw.load.ddl import BATCH_SETTINGS, row_number_sequence

    assert batch.csv is not None
    table = batch.table
    columns = batch.csv.columns
    if len(columns) != len(set(columns)) or set(columns) != set(table.column_names):
        return None  # undeclared (additive drift) or repeated columns: the stage keeps them
    sequence = row_number_sequence(table)
    # the sequence is the table's: one file at a time numbers its rows with it
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{sequence}|row numbers",))
    for column, setting in BATCH_SETTINGS.items():
        value = batch_id if column == "_batch_id" else batch.source_ref
        conn.execute("select set_config(%s, %s, true)", (setting, value))
    listed = ", ".join(_ident(c) for c in columns)
    cursor = conn.cursor()
    try:
        with conn.transaction():  # a savepoint: a refused file leaves nothing behind
            conn.execute("select setval(%s, 0, true)", (sequence,))  # currval 0, the first row gets 1
            with cursor.copy(
                f"copy {table.qualified} ({listed}) from stdin with ({batch.csv.copy_options(listed)}) "
                f"where {_landable_typed_sql(table)}"
            ) as copy:
                for chunk in batch.csv.chunks():
                    copy.write(chunk)
            landed = cursor.rowcount
            read = conn.execute("select currval(%s)", (sequence,)).fetchone()[0]  # type: ignore[index]
            if read == landed:
                return read, landed, 0
            if _copy_csv(conn, batch) != read:  # the stage cannot read it (or reads it otherwise): fall back
                raise _Refused
            return read, landed, _quarantine_stage(conn, batch, batch_id)
    except (psycopg.DataError, _Refused):
        return None


def _copy_csv(conn: psycopg.Connection, batch: Batch) -> int | None:
    """COPY the file's bytes as they are into the stage; None (nothing staged) when COPY refuses them."""
    import psycopg

    assert batch.csv is not None
    columns = batch.csv.columns
    if len(set(columns)) != len(columns) or set(columns) & set(_INTERNAL):
        return None  # the stage cannot name these columns apart: the row path reports them
    listed = ", ".join(_ident(c) for c in columns)
    cursor = conn.cursor()
    try:
        with conn.transaction():  # a savepoint: a refused file leaves the stage empty
            with cursor.copy(f"copy _stage ({listed}) from stdin with ({batch.csv.copy_options(listed)})") as copy:
                for chunk in batch.csv.chunks():
                    copy.write(chunk)
    except psycopg.DataError:
        return None
    return cursor.rowcount


def _copy_rows(conn: psycopg.Connection, batch: Batch) -> tuple[int, bool, Any]:
    """COPY ``batch.rows`` into the stage; (rows read, whether any row has issues, digest of the rows)."""
    digest = hashlib.sha256()
    read = 0
    has_issues = False
    width = len(batch.table.columns)
    with conn.cursor().copy(
        f"copy _stage (_row_number, {', '.join(batch.table.column_names)}, _raw, _reason, _issues) from stdin"
    ) as copy:
        for row in batch.rows:
            read += 1
            if row.values is None:
                digest.update(repr(row.raw).encode())
                copy.write_row([row.number, *([None] * width), row.raw, row.reason or "unparsable", None])
                continue
            digest.update(repr(row.values).encode())
            issues = None
            if row.issues:
                has_issues = True
                issues = json.dumps(row.issues, ensure_ascii=False)
            copy.write_row([row.number, *row.values, None, None, issues])
    return read, has_issues, digest

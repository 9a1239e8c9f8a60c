"""Extract billing tables from the billing OLTP database by ``updated_at`` watermark.

Write mode: one batch per table per data interval, replaced when the interval is re-run. Cursor:
``updated_at`` in ``[watermark - overlap, end of interval)``; the overlap re-reads transactions
that were in flight at the last extraction (staging keeps the latest version per key).

The rows travel as the CSV the source server's ``COPY (query) TO STDOUT`` writes, passed unparsed to
the warehouse's COPY (the loader's fast path, :class:`~telco_dw.load.batch.CsvStream`); a server
cursor over the same query (``Batch.rows``) is the fallback when COPY refuses them. Each COPY
attempt reads the source again: rows that changed in between change the count, which the loader
checks, and it then lands the batch from one read (the stage path).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg

from telco_dw.load import watermarks
from telco_dw.load.batch import Batch, CsvStream, Row
from telco_dw.load.csvfile import CHUNK
from telco_dw.sources.billing.schema import TABLES
from telco_dw.sources.schema import Table

OVERLAP = timedelta(minutes=10)


def _query(table: Table) -> str:
    """The window's rows of ``table`` as text, in a stable order (parameters: since, until)."""
    cols = ", ".join(f"{c}::text" for c in table.column_names)
    return (
        f"select {cols} from {table.name} where updated_at >= %s and updated_at < %s "
        f"order by updated_at, {', '.join(table.key)}"
    )


def _rows(source_url: str, table: Table, since: datetime, until: datetime) -> Iterator[Row]:
    with psycopg.connect(source_url) as src, src.cursor(name=f"extract_{table.name}") as cursor:
        cursor.itersize = 20_000
        cursor.execute(_query(table), (since, until))
        for number, values in enumerate(cursor, start=1):
            yield Row(number, list(values))


def _csv_chunks(source_url: str, table: Table, since: datetime, until: datetime) -> Iterator[bytes]:
    """The same rows as :func:`_rows`, as the CSV the source server writes (``COPY ... TO STDOUT``),
    in chunks of about ``CHUNK`` bytes (as a file's): the loader passes them to the warehouse's COPY unparsed."""
    buffer = bytearray()
    with (
        psycopg.connect(source_url) as src,
        src.cursor().copy(
            f"copy ({_query(table)}) to stdout with (format csv, encoding 'UTF8')", (since, until)
        ) as copy,
    ):
        for block in copy:
            buffer += block
            if len(buffer) >= CHUNK:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def batches(conn: psycopg.Connection, source_url: str, until: datetime) -> Iterator[Batch]:
    """One batch per billing table for the window ending at ``until`` (see the module docstring)."""
    for table in TABLES:
        since, end = watermarks.window(conn, table, until)
        start = since - OVERLAP if since > watermarks.EPOCH + OVERLAP else since
        yield Batch(
            table=table,
            source_ref=f"billing_src.{table.name}[{start.isoformat()}..{end.isoformat()})",
            checksum=None,
            rows=_rows(source_url, table, start, end),
            csv=CsvStream(
                columns=table.column_names,
                chunks=lambda table=table, start=start, end=end: _csv_chunks(source_url, table, start, end),  # type: ignore[misc]
                empty_is_null=False,
            ),
            interval_start=since,
            interval_end=end,
            after=[watermarks.advance_sql(table, end)],
        )

"""Extract billing tables from the billing OLTP database by ``updated_at`` watermark.

Write mode: one batch per table per data interval, replaced when the interval is re-run. Cursor:
``updated_at`` in ``[watermark - overlap, end of interval)``; the overlap re-reads transactions
that were in flight at the last extraction (staging keeps the latest version per key).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg

from telco_dw.load import watermarks
from telco_dw.load.batch import Batch, Row
from telco_dw.sources.billing.schema import TABLES
from telco_dw.sources.schema import Table

OVERLAP = timedelta(minutes=10)


def _rows(source_url: str, table: Table, since: datetime, until: datetime) -> Iterator[Row]:
    cols = ", ".join(f"{c}::text" for c in table.column_names)
    query = (
        f"select {cols} from {table.name} where updated_at >= %s and updated_at < %s "
        f"order by updated_at, {', '.join(table.key)}"
    )
    with psycopg.connect(source_url) as src, src.cursor(name=f"extract_{table.name}") as cursor:
        cursor.itersize = 20_000
        cursor.execute(query, (since, until))
        for number, values in enumerate(cursor, start=1):
            yield Row(number, list(values))


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
            interval_start=since,
            interval_end=end,
            after=[watermarks.advance_sql(table, end)],
        )

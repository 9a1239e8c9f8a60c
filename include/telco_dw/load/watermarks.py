"""Watermarks of incremental sources (API and database extracts), kept in ``audit.watermarks``.

An extraction covers ``[since, until)`` of the source's ``updated_at``: ``since`` is the watermark
(or, when re-running an interval already landed, the start that batch had), ``until`` the end of the
data interval. The watermark moves to ``until`` in the same transaction as the batch lands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window(conn: psycopg.Connection, table: Table, until: datetime) -> tuple[datetime, datetime]:
    """The ``[since, until)`` range to extract for ``table`` in a run whose interval ends at ``until``."""
    rerun = conn.execute(
        "select interval_start from audit.load_batches where target_table = %s and interval_end = %s",
        (table.qualified, until),
    ).fetchone()
    if rerun is not None and rerun[0] is not None:
        return rerun[0], until
    row = conn.execute(
        "select value from audit.watermarks where source = %s and entity = %s", (table.source, table.name)
    ).fetchone()
    since = row[0] if row else EPOCH
    return min(since, until), until


def advance_sql(table: Table, until: datetime) -> tuple[str, tuple[object, ...]]:
    """SQL (and parameters) moving the watermark to ``until``, run inside the batch's transaction."""
    return (
        "insert into audit.watermarks (source, entity, value, batch_id) values (%s, %s, %s, '') "
        "on conflict (source, entity) do update set value = greatest(audit.watermarks.value, excluded.value), "
        "updated_at = now()",
        (table.source, table.name, until),
    )

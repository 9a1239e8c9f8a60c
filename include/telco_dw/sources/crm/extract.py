"""Extract CRM customers, subscriptions and tickets from the CRM API by ``updated_since`` cursor.

Write mode: one batch per entity per data interval, replaced when the interval is re-run. Cursor:
``updated_at`` in ``[watermark, end of interval)``, paged with the API's own cursor; 429/5xx and
dropped connections are retried by the client. A record without a usable ``updated_at`` is not
dropped: it lands in quarantine with the reason, in exactly one window (see :func:`_rows`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg

from telco_dw.load import watermarks
from telco_dw.load.batch import Batch, Row
from telco_dw.sources.crm.schema import TABLES
from telco_dw.sources.schema import Table

PAGE_SIZE = 500


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _parse_ts(value: object) -> datetime | None:
    """``updated_at`` as an aware datetime (naive = UTC, as the API orders it), None when absent or unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rows(base_url: str, token: str, table: Table, since: datetime, until: datetime) -> Iterator[Row]:
    """The records of ``[since, until)``, in the API's ``(updated_at, id)`` order.

    A record without a usable ``updated_at`` cannot be placed by its own time: it belongs to the
    window of the record served just before it (the API orders it by the day it changed), or to
    the first window when nothing precedes it. It is passed on as it is, so landing quarantines it
    with the reason (``updated_at: required value missing`` / ``not a valid timestamptz``) instead
    of dropping it, and each such record is landed by exactly one window. Reading stops at the
    first record at or after ``until``.
    """
    from telco_dw.sources.crm.client import iter_pages

    number = 0
    # where the stream stands: the time of the last record with a usable updated_at, or, before any,
    # EPOCH for the first window (nothing precedes it) and just before ``since`` for any other
    position = since if since <= watermarks.EPOCH else since - timedelta(microseconds=1)
    # the API filters updated_at > updated_since: ask from a second earlier, keep [since, until)
    for page in iter_pages(base_url, token, table.name, since - timedelta(seconds=1), PAGE_SIZE):
        for record in page.records:
            stamp = _parse_ts(record.get("updated_at"))
            if stamp is not None:
                position = stamp
            if position >= until:
                return
            if position < since:
                continue
            number += 1
            yield Row(number, [_text(record.get(c)) for c in table.column_names])


def batches(conn: psycopg.Connection, base_url: str, token: str, until: datetime) -> Iterator[Batch]:
    """One batch per CRM entity for the window ending at ``until``."""
    for table in TABLES:
        since, end = watermarks.window(conn, table, until)
        yield Batch(
            table=table,
            source_ref=f"crm-api/{table.name}[{since.isoformat()}..{end.isoformat()})",
            checksum=None,
            rows=_rows(base_url, token, table, since, end),
            interval_start=since,
            interval_end=end,
            after=[watermarks.advance_sql(table, end)],
        )

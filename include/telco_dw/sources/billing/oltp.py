"""The billing simulator: a normalised OLTP database (``billing_src``) advanced day by day.

Each outbox day file ``billing/dt=YYYY-MM-DD/<table>.csv`` holds full row versions; applying a day
upserts them by primary key, so rows change after insert (payments settle, invoices are corrected)
as in a live system. Applied days are remembered: :func:`advance` is idempotent.
"""

from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.sources.billing.schema import TABLES

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


def create_schema(conn: psycopg.Connection) -> None:
    """The billing tables (primary keys, ``updated_at`` indexed, no foreign keys: orphans happen)."""
    for table in TABLES:
        cols = ", ".join(f"{c.name} {c.type}" for c in table.columns)
        conn.execute(f"create table if not exists {table.name} ({cols}, primary key ({', '.join(table.key)}))")
        conn.execute(f"create index if not exists {table.name}_updated_at_idx on {table.name} (updated_at)")
    conn.execute(
        "create table if not exists sim_applied_days (day date primary key, applied_at timestamptz default now())"
    )


def advance(conn: psycopg.Connection, outbox: Path, through: date) -> dict[str, int]:
    """Apply every day file with ``dt < through`` not applied yet; returns rows upserted per table."""
    create_schema(conn)
    applied = {d for (d,) in conn.execute("select day from sim_applied_days")}
    days = sorted(
        {date.fromisoformat(p.name[3:]) for p in (outbox / "billing").glob("dt=*")} - applied,
    )
    counts = dict.fromkeys((t.name for t in TABLES), 0)
    for day in (d for d in days if d < through):
        with conn.transaction():
            for table in TABLES:
                path = outbox / "billing" / f"dt={day.isoformat()}" / f"{table.name}.csv"
                if path.exists():
                    counts[table.name] += _upsert(conn, table, path)
            conn.execute("insert into sim_applied_days (day) values (%s)", (day,))
    log.info("billing_src advanced through %s: %s", through, counts)
    return counts


def _upsert(conn: psycopg.Connection, table: object, path: Path) -> int:
    from telco_dw.sources.schema import Table

    assert isinstance(table, Table)
    cols = list(table.column_names)
    conn.execute(f"create temp table _day (like {table.name} including defaults) on commit drop")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        with conn.cursor().copy(f"copy _day ({', '.join(header)}) from stdin") as copy:
            for row in reader:
                copy.write_row([v if v != "" else None for v in row])
    key = ", ".join(table.key)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in table.key)
    count = conn.execute(
        f"insert into {table.name} ({', '.join(cols)}) select distinct on ({key}) {', '.join(cols)} from _day "
        f"order by {key}, updated_at desc on conflict ({key}) do update set {updates}"
    ).rowcount
    conn.execute("drop table _day")
    return count

"""The billing simulator: a normalised OLTP database (``billing_src``) advanced day by day.

Tables ``accounts``, ``invoices``, ``invoice_lines``, ``payments`` in schema ``public``, with the
columns and types declared in :mod:`telco_dw.sources.billing.schema`, a primary key each, an index on
``updated_at``, and no foreign keys (orphan payments exist, as in the source data).

Each outbox day file ``billing/dt=YYYY-MM-DD/<table>.csv`` holds full row versions (header = column
names). :func:`advance` applies the days up to a date, in day order, each in one transaction: the
file is COPied into a temporary table and upserted by primary key, so rows change after insert
(payments settle, invoices are corrected) as in a live system. Guarantees:

- idempotent: applied days are recorded in ``sim_applied_days`` in the same transaction as their
  rows; a day is never applied twice, even by two concurrent callers;
- last version wins: within a day the version with the latest ``updated_at`` per key, and an
  existing row is only replaced by a version at least as recent (a day applied late cannot move a
  row back in time);
- all or nothing per day: a file that does not fit its table fails the call with a ``UserError``
  naming the file, line and column, and that day stays unapplied.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.errors import UserError
from telco_dw.sources.billing.schema import TABLES
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

APPLIED_TABLE = "sim_applied_days"
_CHUNK = 1 << 20


def create_schema(conn: psycopg.Connection) -> None:
    """Create the billing tables and ``sim_applied_days`` when missing (safe to repeat)."""
    for table in TABLES:
        cols = ", ".join(f"{c.name} {c.type}" for c in table.columns)
        conn.execute(f"create table if not exists {table.name} ({cols}, primary key ({', '.join(table.key)}))")
        conn.execute(f"create index if not exists {table.name}_updated_at_idx on {table.name} (updated_at)")
    conn.execute(
        f"create table if not exists {APPLIED_TABLE} "
        "(day date primary key, applied_at timestamptz not null default now(), rows jsonb)"
    )
    conn.execute(f"alter table {APPLIED_TABLE} add column if not exists rows jsonb")


def outbox_days(outbox: Path) -> list[date]:
    """The days with billing files in ``outbox``, ascending."""
    days = []
    for path in (outbox / "billing").glob("dt=*"):
        try:
            days.append(date.fromisoformat(path.name.removeprefix("dt=")))
        except ValueError:
            log.warning("ignoring %s: not a dt=YYYY-MM-DD folder", path)
    return sorted(days)


def applied_days(conn: psycopg.Connection) -> list[date]:
    """The days applied so far, ascending (empty before the first :func:`advance`)."""
    exists = conn.execute("select to_regclass(%s)", (APPLIED_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return []
    return [d for (d,) in conn.execute(f"select day from {APPLIED_TABLE} order by day")]


def advance(conn: psycopg.Connection, outbox: Path, through: date) -> dict[str, int]:
    """Apply every day file with ``dt <= through`` not applied yet (see the module docstring).

    Returns the row versions upserted per table and ``days``, the number of days applied by this
    call (all zero when everything was applied already). Give an autocommit connection (each day is
    then committed on its own), or commit yourself afterwards.
    """
    if not (outbox / "billing").is_dir():
        raise UserError(f"{outbox} holds no billing files (billing/dt=...): run `telco-dw simulate` first")
    create_schema(conn)
    done = set(applied_days(conn))
    due = [d for d in outbox_days(outbox) if d <= through and d not in done]
    counts: dict[str, int] = dict.fromkeys((t.name for t in TABLES), 0)
    days = 0
    started = time.monotonic()
    for day in due:
        with conn.transaction():
            claimed = conn.execute(
                f"insert into {APPLIED_TABLE} (day) values (%s) on conflict (day) do nothing returning day", (day,)
            ).fetchone()
            if claimed is None:  # another caller applied it meanwhile
                continue
            day_counts = {}
            for table in TABLES:
                path = outbox / "billing" / f"dt={day.isoformat()}" / f"{table.name}.csv"
                if path.exists():
                    day_counts[table.name] = _upsert(conn, table, path)
                    counts[table.name] += day_counts[table.name]
            from psycopg.types.json import Jsonb

            conn.execute(f"update {APPLIED_TABLE} set rows = %s where day = %s", (Jsonb(day_counts), day))
        days += 1
        log.info("billing_src: applied %s: %s", day, day_counts)
    log.info(
        "billing_src advanced through %s: %d day(s), rows upserted %s in %.1fs",
        through,
        days,
        counts,
        time.monotonic() - started,
    )
    return {**counts, "days": days}


def _upsert(conn: psycopg.Connection, table: Table, path: Path) -> int:
    """Upsert the row versions of one day file into ``table``; the number of versions applied."""
    import psycopg

    with path.open("rb") as handle:
        header = [h.strip() for h in next(csv.reader([handle.readline().decode("utf-8-sig")]), [])]
        unknown = [h for h in header if h not in table.column_names]
        missing = [c for c in (*table.key, "updated_at") if c not in header]
        if unknown or missing:
            problems = [f"unknown {unknown}"] * bool(unknown) + [f"missing {missing}"] * bool(missing)
            raise UserError(
                f"{path}: the header {header} does not fit billing table {table.name} ({', '.join(problems)}); "
                f"its columns are {list(table.column_names)}"
            )
        stage = f"_stage_{table.name}"
        conn.execute(f"create temp table {stage} (like {table.name} including defaults) on commit drop")
        try:
            with conn.cursor().copy(f"copy {stage} ({', '.join(header)}) from stdin (format csv)") as copy:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    copy.write(chunk)
        except psycopg.errors.DataError as exc:
            first = str(exc).strip().splitlines()[0]
            found = re.search(r"line (\d+)(?:, column (\w+))?", exc.diag.context or "")
            where = f" line {int(found.group(1)) + 1}" if found else ""  # COPY counts from the first data line
            where += f", column {found.group(2)}" if found and found.group(2) else ""
            raise UserError(
                f"{path}{where}: the row does not fit billing table {table.name}: {first}; that day is not applied: "
                "fix the file and advance again"
            ) from None
    key = ", ".join(table.key)
    cols = ", ".join(header)
    updates = ", ".join(f"{c} = excluded.{c}" for c in header if c not in table.key)
    count = conn.execute(
        f"insert into {table.name} as t ({cols}) "
        f"select distinct on ({key}) {cols} from {stage} order by {key}, updated_at desc nulls last "
        f"on conflict ({key}) do update set {updates} "
        "where t.updated_at is null or excluded.updated_at >= t.updated_at"
    ).rowcount
    conn.execute(f"drop table {stage}")
    return max(count, 0)

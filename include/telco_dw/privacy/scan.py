"""Look for personal data in the warehouse's text columns, by value (see :mod:`.detect`).

A column is read whole, or a sample of its rows (``sample``: rows per table, the first ones of a
``tablesample system``); nothing found is ever printed or stored as a value: a finding says where
(schema, table, column) and what (the kind of identifier, how many values had one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telco_dw.privacy.detect import kinds_in

if TYPE_CHECKING:
    import psycopg

NOT_SCANNED = ("pg_catalog", "information_schema", "pg_toast", "privacy")


@dataclass(frozen=True)
class ColumnFinding:
    schema: str
    table: str
    column: str
    kind: str
    values: int
    """How many of the values read held that kind of identifier."""
    read: int

    @property
    def where(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


def text_columns(conn: psycopg.Connection, schemas: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every text-like column of a table, view or materialized view."""
    rows = conn.execute(
        "select n.nspname, c.relname, a.attname from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where c.relkind in ('r', 'p', 'v', 'm') and a.attnum > 0 and not a.attisdropped "
        "and a.atttypid in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'jsonb'::regtype) "
        "and n.nspname <> all(%s) and n.nspname not like 'pg\\_temp%%' "
        "and (%s::text[] is null or n.nspname = any(%s::text[])) order by 1, 2, a.attnum",
        (list(NOT_SCANNED), schemas, schemas),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def scan(
    conn: psycopg.Connection, columns: list[tuple[str, str, str]], sample: int | None = None
) -> list[ColumnFinding]:
    """Findings in ``columns`` (distinct values read, at most ``sample`` rows per column when given)."""
    from psycopg import sql

    findings: list[ColumnFinding] = []
    for schema, table, column in columns:
        query = sql.SQL("select distinct {col}::text from {tbl} where {col} is not null").format(
            col=sql.Identifier(column), tbl=sql.Identifier(schema, table)
        )
        if sample:
            query = sql.SQL("select {col}::text from {tbl} where {col} is not null limit {n}").format(
                col=sql.Identifier(column), tbl=sql.Identifier(schema, table), n=sql.Literal(sample)
            )
        counts: Counter[str] = Counter()
        read = 0
        for (value,) in conn.cursor().stream(query):  # row by row: a big column is never held whole
            read += 1
            counts.update(kinds_in(value))
        findings.extend(ColumnFinding(schema, table, column, kind, n, read) for kind, n in sorted(counts.items()))
    return findings

"""Warehouse objects the loaders own: raw tables, the batch ledger, and their schemas.

Everything here is idempotent (``create ... if not exists``) and derived from the declared source
schemas in ``telco_dw.sources``, so a new column is declared in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "text not null"),
    ("_loaded_at", "timestamptz not null"),
    ("_source_file", "text not null"),
    ("_row_number", "bigint not null"),
)

AUDIT_DDL = """
create schema if not exists audit;
create table if not exists audit.load_batches (
    batch_id        text primary key,
    source          text not null,
    target_table    text not null,
    source_file     text not null,
    file_bytes      bigint not null,
    file_sha256     text not null,
    interval_start  timestamptz,
    interval_end    timestamptz,
    rows_read       bigint not null,
    rows_landed     bigint not null,
    rows_quarantined bigint not null default 0,
    status          text not null,
    started_at      timestamptz not null,
    finished_at     timestamptz,
    unique (target_table, source_file)
);
"""


def raw_table_ddl(table: Table) -> str:
    """``create table if not exists`` for one raw table: declared columns, then load metadata."""
    cols = [f"    {c.name} {c.type}" for c in table.columns]
    cols += [f"    {name} {kind}" for name, kind in METADATA_COLUMNS]
    body = ",\n".join(cols)
    return (
        f"create schema if not exists {table.schema};\n"
        f"create table if not exists {table.qualified} (\n{body}\n);\n"
        f"create index if not exists {table.name}_batch_idx on {table.qualified} (_batch_id);\n"
    )


def ensure_all(conn: psycopg.Connection) -> None:
    """Create the audit schema and every declared raw table (idempotent)."""
    conn.execute(AUDIT_DDL)
    for source in sources.SOURCES:
        for table in sources.tables(source):
            conn.execute(raw_table_ddl(table))

"""Warehouse objects the loaders own: raw tables, the batch ledger, and their schemas.

Everything here is idempotent (``create ... if not exists``) and derived from the declared source
schemas in ``telco_dw.sources``, so a new column is declared in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.errors import UserError
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
    notes           jsonb not null default '{}',
    started_at      timestamptz not null,
    finished_at     timestamptz,
    unique (target_table, source_file)
);
create table if not exists audit.watermarks (
    source          text not null,
    entity          text not null,
    value           timestamptz not null,
    batch_id        text not null,
    updated_at      timestamptz not null default now(),
    primary key (source, entity)
);
create schema if not exists quarantine;
"""

QUARANTINE_DDL = """
create table if not exists quarantine.{source} (
    batch_id        text not null,
    target_table    text not null,
    source_ref      text not null,
    row_number      bigint,
    reason          text not null,
    raw_record      jsonb,
    raw_text        text,
    quarantined_at  timestamptz not null default now()
);
create index if not exists {source}_batch_idx on quarantine.{source} (batch_id);
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
    """Create the audit and quarantine schemas and every declared raw table (idempotent).

    Raises :class:`UserError` when the server is older than PostgreSQL 16, or when an existing raw
    table's columns differ from the declaration (a warehouse built by an older version of the project).
    """
    version = int(conn.execute("show server_version_num").fetchone()[0])  # type: ignore[index]
    if version < 160000:
        raise UserError(
            f"the warehouse runs PostgreSQL {version // 10000}; telco-dw needs 16 or newer "
            "(landing validates values with pg_input_is_valid): use a newer server or the embedded one"
        )
    conn.execute(AUDIT_DDL)
    for source in sources.SOURCES:
        conn.execute(QUARANTINE_DDL.format(source=source))
        for table in sources.tables(source):
            conn.execute(raw_table_ddl(table))
            have = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s order by ordinal_position",
                    (table.schema, table.name),
                )
                if not name.startswith("_")
            ]
            if have != list(table.column_names):
                raise UserError(
                    f"{table.qualified} has columns {have}, but the project declares {list(table.column_names)}: "
                    "this warehouse was built by another version of telco-dw; run `telco-dw warehouse reset` "
                    "to drop its schemas (raw data included), then land again"
                )
    conn.execute("alter table audit.load_batches add column if not exists notes jsonb not null default '{}'")


WAREHOUSE_SCHEMAS = (
    *(f"raw_{source}" for source in sources.SOURCES),
    "quarantine",
    "audit",
    "staging",
    "intermediate",
    "marts",
    "marts_candidate",
)


def reset(conn: psycopg.Connection) -> None:
    """Drop every schema the project owns in the warehouse (raw data, ledger, marts). Irreversible."""
    for schema in WAREHOUSE_SCHEMAS:
        conn.execute(f"drop schema if exists {schema} cascade")

"""Warehouse objects the loaders own: raw tables, the batch ledger, and their schemas.

Everything here is idempotent (``create ... if not exists``) and derived from the declared source
schemas in ``telco_dw.sources``, so a new column is declared in one place.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.errors import UserError
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import psycopg

METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "uuid not null"),
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
create table if not exists audit.privacy_actions (
    action_id       bigint generated always as identity primary key,
    action          text not null,
    subject         text,
    target          text not null,
    rows_affected   bigint not null,
    detail          jsonb not null default '{}',
    acted_at        timestamptz not null default now()
);
create table if not exists audit.publications (
    run_id          text primary key,
    status          text not null check (status in ('building', 'published', 'refused')),
    started_at      timestamptz not null,
    finished_at     timestamptz,
    tables          jsonb not null default '{}',
    reason          text
);
create table if not exists audit.task_failures (
    failed_at       timestamptz not null default now(),
    dag_id          text not null,
    task_id         text not null,
    run_id          text not null,
    try_number      integer,
    will_retry      boolean not null,
    interval_start  timestamptz,
    interval_end    timestamptz,
    source_ref      text,
    error           text not null
);
create schema if not exists quarantine;
create table if not exists quarantine.column_issues (
    batch_id        text not null,
    target_table    text not null,
    source_ref      text not null,
    row_number      bigint not null,
    column_name     text not null,
    reason          text not null,
    recorded_at     timestamptz not null default now()
);
create index if not exists column_issues_batch_idx on quarantine.column_issues (batch_id);
"""
"""``quarantine.column_issues``: values a source mapping set to null on purpose (``on_error: null``);
the row landed, the issue (row, column, why) is kept here. Reasons may quote source values, hence
the quarantine schema (personal data), not ``audit``."""

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


BATCH_SETTINGS = {"_batch_id": "telco_dw.batch_id", "_source_file": "telco_dw.source_file"}
"""Metadata columns whose default is the batch's value, set with ``set_config(..., true)`` by the loader."""


def row_number_sequence(table: Table) -> str:
    """The sequence numbering the data rows of a file COPYed straight into ``table`` (``_row_number``)."""
    return f"{table.schema}.{table.name}__row_number"


NULLED_IN_PLACE = {
    ("raw_network", "subscriber_experience_daily"): "msisdn",
    ("raw_crm", "subscriptions"): "msisdn",
    ("raw_survey", "responses"): "comment",
}
"""Raw tables whose incremental staging follows the values the privacy jobs null in place (the
post-hooks of ``stg_network__subscriber_experience_daily``, which drops the day,
``stg_crm__subscriptions``, which nulls the token, and ``stg_survey__responses``, which clears the
scrubbed comment), by table -> the nulled column. A partial index on those rows lets every dbt run
find them without reading the table: empty until privacy nulls a number; for the comments, it also
holds the answers that came without one (about half), which the post-hook skips (none is staged
with a comment)."""


def raw_table_ddl(table: Table) -> str:
    """Idempotent DDL of one raw table: declared columns, then load metadata, and what the COPY fast path
    of :mod:`telco_dw.load.batch` needs.

    The metadata columns default to the batch's values, so a file COPYed into the declared columns gets
    them from the server: ``_batch_id`` and ``_source_file`` from settings the loader sets for its
    transaction (through ``<schema>._batch_setting``, declared immutable so that COPY evaluates it once
    per statement, not per row; it is only ever read by those defaults), ``_loaded_at`` now(), and
    ``_row_number`` from a per-table sequence the loader restarts for each file under a lock. Outside a
    batch the settings are empty, so an insert that omits the metadata still fails (not null).
    ``create table if not exists`` does not alter an existing table, hence the ``alter ... set default``.

    Row width is what COPY pays for (the metadata roughly doubles a narrow row), so ``_batch_id`` is a
    uuid (16 bytes, not 37 as text). It is indexed with a BRIN bloom index (finding one batch's block
    ranges for a replace) rather than a btree, whose one-entry-per-row upkeep cost more than the COPY.
    ``_loaded_at`` has a BRIN minmax index too: rows land in load order, so the rows landed since a
    time are a few block ranges at the table's end, which dbt's incremental staging models read
    (``dbt_project/macros/merge_window.sql``) instead of the whole history. A table of
    ``NULLED_IN_PLACE`` has a partial index on its rows privacy nulled.
    """
    cols = [f"    {c.name} {c.type}" for c in table.columns]
    cols += [f"    {name} {kind}" for name, kind in METADATA_COLUMNS]
    body = ",\n".join(cols)
    sequence = row_number_sequence(table)
    defaults = [
        f"_batch_id set default {table.schema}._batch_setting('{BATCH_SETTINGS['_batch_id']}')::uuid",
        f"_source_file set default {table.schema}._batch_setting('{BATCH_SETTINGS['_source_file']}')",
    ]
    defaults += ["_loaded_at set default now()", f"_row_number set default nextval('{sequence}')"]
    return (
        f"create schema if not exists {table.schema};\n"
        f"create or replace function {table.schema}._batch_setting(name text) returns text\n"
        "    language sql immutable parallel safe\n"
        "    return nullif(current_setting(name, true), '');\n"
        f"create table if not exists {table.qualified} (\n{body}\n);\n"
        f"create sequence if not exists {sequence} as bigint minvalue 0 cache 1000\n"
        f"    owned by {table.qualified}._row_number;\n"
        f"drop index if exists {table.schema}.{table.name}_batch_idx;\n"
        f"{_batch_id_to_uuid(table)}\n"
        f"alter table {table.qualified}\n    alter column " + ",\n    alter column ".join(defaults) + ";\n"
        f"create index if not exists {table.name}_batch_brin on {table.qualified}\n"
        "    using brin (_batch_id uuid_bloom_ops) with (autosummarize = on);\n"
        f"create index if not exists {table.name}_loaded_brin on {table.qualified}\n"
        "    using brin (_loaded_at) with (autosummarize = on);\n" + _nulled_index(table)
    )


def _nulled_index(table: Table) -> str:
    """The partial index on the rows of ``table`` whose column privacy nulled (``NULLED_IN_PLACE``)."""
    column = NULLED_IN_PLACE.get((table.schema, table.name))
    if column is None:
        return ""
    return (
        f"create index if not exists {table.name}_nulled on {table.qualified} (_batch_id, _row_number)\n"
        f"    where {column} is null;\n"
    )


def _batch_id_to_uuid(table: Table) -> str:
    """DDL converting a text ``_batch_id`` (as an earlier telco-dw made it) to uuid, in place."""
    return (
        "do $$ begin if exists (select from information_schema.columns where table_schema = "
        f"'{table.schema}' and table_name = '{table.name}' and column_name = '_batch_id' and data_type = 'text') "
        f"then drop index if exists {table.schema}.{table.name}_batch_brin; "
        f"alter table {table.qualified} alter column _batch_id drop default, "
        "alter column _batch_id type uuid using _batch_id::uuid; end if; end $$;"
    )


def _statements() -> list[str]:
    """Every statement :func:`ensure_all` applies, in order."""
    out = [AUDIT_DDL]
    for source in sources.SOURCES:
        out.append(QUARANTINE_DDL.format(source=source))
        out.extend(raw_table_ddl(table) for table in sources.tables(source))
    return out


def _applied(conn: psycopg.Connection) -> str | None:
    if conn.execute("select to_regclass('audit.ddl_version')").fetchone()[0] is None:  # type: ignore[index]
        return None
    row = conn.execute("select fingerprint from audit.ddl_version").fetchone()
    return row[0] if row else None


def ensure_all(conn: psycopg.Connection) -> None:
    """Create the audit and quarantine schemas and every declared raw table (idempotent).

    Call it inside a transaction. When the warehouse already has exactly these objects (the
    fingerprint of their DDL is in ``audit.ddl_version``) nothing is locked or changed, so loads
    running at the same time are never blocked; otherwise the DDL is applied under an advisory lock,
    one session at a time.

    Raises :class:`UserError` when the server is older than PostgreSQL 16, or when an existing raw
    table's columns differ from the declaration (a warehouse built by an older version of the project).
    """
    version = int(conn.execute("show server_version_num").fetchone()[0])  # type: ignore[index]
    if version < 160000:
        raise UserError(
            f"the warehouse runs PostgreSQL {version // 10000}; telco-dw needs 16 or newer "
            "(landing validates values with pg_input_is_valid): use a newer server or the embedded one"
        )
    statements = _statements()
    fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()
    if _applied(conn) == fingerprint:
        return
    conn.execute("select pg_advisory_xact_lock(hashtextextended('telco_dw.ddl', 0))")
    if _applied(conn) == fingerprint:  # another session applied it while this one waited
        return
    for statement in statements:
        conn.execute(statement)
    for source in sources.SOURCES:
        for table in sources.tables(source):
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
    conn.execute("create table if not exists audit.ddl_version (fingerprint text not null)")
    conn.execute("delete from audit.ddl_version")
    conn.execute("insert into audit.ddl_version values (%s)", (fingerprint,))


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

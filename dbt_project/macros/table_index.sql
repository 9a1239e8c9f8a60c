{#- A post-hook's index on this table, named `name` (a no-op once the table has it), `unique` or not,
    by `method` (btree, brin) on `columns` (SQL). Not `create index if not exists`: on a full refresh
    of an incremental model dbt renames the table it replaces to a backup, which keeps its indexes'
    names until the build commits and drops it, so `if not exists` found the name taken and the new
    table was left without the index (an unenforced key, a slow next merge) until its next run. The
    name is looked up on this table; one the backup still holds is dropped with it first. -#}
{% macro table_index(name, columns, unique=false, method='btree') -%}
    do $table_index$
    begin
        if not exists (
            select
            from pg_catalog.pg_index as indexes
            inner join pg_catalog.pg_class as names on indexes.indexrelid = names.oid
            where
                indexes.indrelid = {{ dbt.string_literal(this | string) }}::regclass
                and names.relname = {{ dbt.string_literal(name) }}
        ) then
            drop index if exists {{ adapter.quote(this.schema) }}.{{ adapter.quote(name) }};
            create {{ 'unique ' if unique }}index {{ adapter.quote(name) }}
                on {{ this }} using {{ method }} ({{ columns }});
        end if;
    end $table_index$
{%- endmacro %}

{#- A post-hook of a model that keeps its table and appends rows to it: a unique index on `column`
    named `<table>__<suffix>`, created on the table's first build (PostgreSQL builds it in one pass
    over the rows). PostgreSQL then refuses a run's row that repeats a kept key, and the key's data
    test checks that the index is there (`unique_by_index`, tests/generic/unique_by_index.sql). -#}
{% macro unique_index(column, suffix) -%}
    {{ table_index(this.identifier ~ '__' ~ suffix, adapter.quote(column), unique=true) }}
{%- endmacro %}

{#- Every layer's post-hook: a table built in full (`materialized: table`) holds its key (its first
    column, the project's convention) by a unique index, `<table>__key`, built in one pass over the
    new rows in the build's transaction. A repeated key fails the model with PostgreSQL's message
    naming it (`could not create unique index ... Key (<column>)=(...) is duplicated`), the
    transaction rolls back to the table as it was, and what reads the model is skipped. The key's
    data test, `unique_by_index`, checks the index is there. dbt's `unique` test grouped the whole
    table again on every run: 4.1 s for the 3M rows of `fct_billing_monthly` at 1M customers, where
    the index takes 1.1 s (docs/warehouse.md), and BI tools get an index on each mart's key. A
    no-op for other materialisations: the incremental models index their keys in their own hooks. -#}
{% macro key_index() -%}
    {%- if not execute or config.get('materialized') != 'table' or not model.columns -%}
        {{ return('') }}
    {%- endif -%}
    {%- set key = (model.columns.values() | list | first).name -%}
    {{ unique_index(key, 'key') }}
{%- endmacro %}

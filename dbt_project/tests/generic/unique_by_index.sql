{#-
    The key of a table a run appends to (`incremental_strategy: append`: the customer-months, the
    customer-keyed aggregates) is held by a unique index (`unique_index()`, a post-hook), so
    PostgreSQL refuses every row that would repeat a key, at its insert. This test fails (one row)
    unless that index is there and valid: a unique, non-partial index on the column alone. dbt's
    `unique` test sorted the whole table on every run to find what the index already refuses (3 s
    for the 3M customer-months at 1M customers, docs/warehouse.md).
-#}
{% test unique_by_index(model, column_name) %}

select
    {{ dbt.string_literal(model | string) }} as relation,
    {{ dbt.string_literal(column_name) }} as key_column,
    'no valid unique index on the key alone' as problem
where not exists (
    select
    from pg_catalog.pg_index as indexes
    inner join pg_catalog.pg_attribute as attributes
        on
            indexes.indrelid = attributes.attrelid
            and indexes.indkey[0] = attributes.attnum
    where
        indexes.indrelid = {{ dbt.string_literal(model | string) }}::regclass
        and indexes.indisunique
        and indexes.indisvalid
        and indexes.indnkeyatts = 1
        and indexes.indpred is null
        and indexes.indexprs is null
        and attributes.attname = {{ dbt.string_literal(column_name) }}
)

{% endtest %}

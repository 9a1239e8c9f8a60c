{#-
    The key of a table held by a unique index, so PostgreSQL refuses every row that would repeat a
    key, as it writes it: a table built in full (`key_index()`, every layer's post-hook: the index is
    built in one pass over the new rows), a table a run appends to (the customer-months, the
    customer-keyed aggregates: `unique_index()`), a table merged by key (`key_merged_indexes()`) and
    the snapshot. This test fails (one row) unless that index is there and valid: a unique,
    non-partial index on the column alone. dbt's `unique` test grouped the whole table on every run
    to find what the index already refuses (4.1 s for the 3M rows of `fct_billing_monthly` at 1M
    customers, where the index takes 1.1 s; docs/warehouse.md). It reads the catalogue, not the
    rows, so a `where` config does not apply (`get_where_subquery`).
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

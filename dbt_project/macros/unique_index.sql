{#- A post-hook of a model that keeps its table and appends rows to it: a unique index on `column`
    named `<table>__<suffix>`, created on the table's first build (a no-op once it exists; PostgreSQL
    builds it in one pass over the rows). PostgreSQL then refuses a run's row that repeats a kept key
    (the key's `unique` data test may read the index, when the planner finds it cheaper than the
    table: docs/warehouse.md). -#}
{% macro unique_index(column, suffix) -%}
    create unique index if not exists {{ adapter.quote(this.identifier ~ '__' ~ suffix) }}
        on {{ this }} ({{ adapter.quote(column) }})
{%- endmacro %}

{#- A post-hook of a model that keeps its table and appends rows to it: a unique index on `column`
    named `<table>__<suffix>`, created on the table's first build (a no-op once it exists; PostgreSQL
    builds it in one pass over the rows). PostgreSQL then refuses a run's row that repeats a kept key,
    and the key's `unique` data test can read the index instead of sorting the table (at 1M
    customers, the 3M customer-months: 3.0 s → 1.1 s while the pages are marked all-visible, as
    after a vacuum; docs/warehouse.md). -#}
{% macro unique_index(column, suffix) -%}
    create unique index if not exists {{ adapter.quote(this.identifier ~ '__' ~ suffix) }}
        on {{ this }} ({{ adapter.quote(column) }})
{%- endmacro %}

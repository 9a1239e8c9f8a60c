{#- A post-hook of a model that keeps its table and appends rows to it: a unique index on `column`
    named `<table>__<suffix>`, created on the table's first build (a no-op once it exists; PostgreSQL
    builds it in one pass over the rows). PostgreSQL then refuses a run's row that repeats a kept key,
    and the key's data test checks that the index is there (`unique_by_index`,
    tests/generic/unique_by_index.sql). -#}
{% macro unique_index(column, suffix) -%}
    create unique index if not exists {{ adapter.quote(this.identifier ~ '__' ~ suffix) }}
        on {{ this }} ({{ adapter.quote(column) }})
{%- endmacro %}

{#-
    The latest version of each source record in a raw table: the newest `updated_at` (the source's
    change time; none for append-only facts), then the latest load (`_loaded_at`), then the last row
    of the file (`_row_number`). Change extracts land a record once per change, redeliveries land it
    again: this is the one rule staging uses to keep one row per source key.
-#}
{% macro latest_version(relation, key, updated_at='updated_at') -%}
    {{ return(adapter.dispatch('latest_version', 'telco_dw')(relation, key, updated_at)) }}
{%- endmacro %}

{% macro default__latest_version(relation, key, updated_at) -%}
    {%- set order_by = [] -%}
    {%- if updated_at -%}
        {%- do order_by.append(updated_at ~ ' desc nulls last') -%}
    {%- endif -%}
    {%- do order_by.extend(['_loaded_at desc', '_row_number desc']) -%}
    {{ return(telco_dw.deduplicate(relation, key, order_by | join(', '))) }}
{%- endmacro %}

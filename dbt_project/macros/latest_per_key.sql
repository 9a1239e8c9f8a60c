{#-
    Window expression numbering the versions of a source record, newest first: the latest
    `updated_at`, then the latest load, then the last row of the file. Keep rows where it equals 1.
-#}
{% macro latest_per_key(key, updated_at='updated_at') -%}
    {{ adapter.dispatch('latest_per_key', 'telco_dw')(key, updated_at) }}
{%- endmacro %}

{% macro default__latest_per_key(key, updated_at) -%}
    row_number() over (
        partition by {{ key }}
        order by {{ updated_at }} desc nulls last, _loaded_at desc, _row_number desc
    )
{%- endmacro %}

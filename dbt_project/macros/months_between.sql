{#-
    Whole calendar months from one date to a later one (2025-01-31 to 2025-02-28 is 0, to 2025-03-01
    is 1); null when either is null.
-#}
{% macro months_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('months_between', 'telco_dw')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__months_between(start_date, end_date) -%}
    (
        date_part('year', age({{ end_date }}, {{ start_date }})) * 12
        + date_part('month', age({{ end_date }}, {{ start_date }}))
    )::integer
{%- endmacro %}

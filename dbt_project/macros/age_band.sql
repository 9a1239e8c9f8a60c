{#- Age band of a birth date at a reference date (under 18, 18-29, 30-39, ..., 60-69, 70+): a
    generalisation that replaces the birth date downstream of staging. -#}
{% macro age_band(birth_date, as_of="(current_timestamp at time zone 'UTC')::date") -%}
    {{ adapter.dispatch('age_band', 'telco_dw')(birth_date, as_of) }}
{%- endmacro %}

{% macro default__age_band(birth_date, as_of) -%}
    {%- set years = "date_part('year', age(" ~ as_of ~ ", " ~ birth_date ~ "))" -%}
    case
        when {{ birth_date }} is null then null
        when {{ years }} < 18 then 'under 18'
        when {{ years }} < 30 then '18-29'
        when {{ years }} >= 70 then '70+'
        else (floor({{ years }} / 10) * 10)::int::text || '-' || (floor({{ years }} / 10) * 10 + 9)::int::text
    end
{%- endmacro %}

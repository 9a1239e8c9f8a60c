{#-
    A Chinese mobile number as its 11 digits: `+86 138 1234 5678`, `138-1234-5678` and `13812345678`
    are the same number (DOMAIN.md); null when no 11-digit number remains.
-#}
{% macro normalise_mobile(value) -%}
    {{ return(adapter.dispatch('normalise_mobile', 'telco_dw')(value)) }}
{%- endmacro %}

{% macro default__normalise_mobile(value) -%}
    nullif(right(regexp_replace({{ value }}, '[^0-9]', '', 'g'), 11), '')
{%- endmacro %}

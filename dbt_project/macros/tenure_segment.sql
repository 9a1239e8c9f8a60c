{#-
    Tenure segment of a customer in a month: whole months from the sign-up date to the month's first
    day, in bands (< 3 months, 3-11 months, 12-35 months, 36+ months). A customer who signs up during
    the month is in `< 3 months`. The band of a month never changes afterwards, so monthly facts keep
    their segment when rebuilt.
-#}
{% macro tenure_segment(signed_up_date, month_start_date) -%}
    {{ adapter.dispatch('tenure_segment', 'telco_dw')(signed_up_date, month_start_date) }}
{%- endmacro %}

{% macro default__tenure_segment(signed_up_date, month_start_date) -%}
    {%- set months = telco_dw.months_between(signed_up_date, month_start_date) -%}
    case
        when {{ signed_up_date }} is null or {{ month_start_date }} is null then null
        when {{ months }} < 3 then '< 3 months'
        when {{ months }} < 12 then '3-11 months'
        when {{ months }} < 36 then '12-35 months'
        else '36+ months'
    end
{%- endmacro %}

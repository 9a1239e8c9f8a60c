{#-
    Tenure segment of a customer in a month: whole months from the sign-up date to the month's first
    day, in bands (< 3 months, 3-11 months, 12-35 months, 36+ months). A customer who signs up during
    the month is in `< 3 months`. The band of a month never changes afterwards, so monthly facts keep
    their segment when rebuilt.
-#}
{% macro tenure_segment(signed_up_date, month_start_date) -%}
    {{ adapter.dispatch('tenure_segment', 'telco_dw')(signed_up_date, month_start_date) }}
{%- endmacro %}

{#- The band by position (width_bucket: 0 below 3, 1 from 3, 2 from 12, 3 from 36), so the months are
    counted once a row; null when either date is. -#}
{% macro default__tenure_segment(signed_up_date, month_start_date) -%}
    (array['< 3 months', '3-11 months', '12-35 months', '36+ months'])[
        width_bucket({{ telco_dw.months_between(signed_up_date, month_start_date) }}, array[3, 12, 36]) + 1
    ]
{%- endmacro %}

{#-
    The body of an `as_of` CTE: one row, `as_of_date`, the day every "now" of the customer 360 counts
    to: the data's last day (int_months_observed: the var as_of_date, else the latest day any source
    reports an event for), never current_date, so the same data always builds the same figures.
-#}
{% macro as_of_day() -%}
    select max(observed_through_date) as as_of_date
    from {{ ref('int_months_observed') }}
{%- endmacro %}

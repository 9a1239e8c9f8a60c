{#-
    Days of an observed month at whose 00:00 UTC a customer was in service (ARPU's denominator, the
    customer's share of the month's average active subscribers): from the later of the month's first
    day and the first full day in service, to the earlier of the month's observed-through day and the
    last day in service. 0 for a month the customer was not in service in (no first full day: a final
    bill after the churn). The customer-months keep the two days of service, not this count, so a
    month's row does not change as the data's last day moves on; its readers count the days of the
    month as observed (int_months_observed).
-#}
{% macro days_in_service(first_full_day, last_day_in_service, month_start_date, observed_through_date) -%}
    case
        when {{ first_full_day }} is null then 0
        else greatest(
            0,
            least({{ observed_through_date }}, coalesce({{ last_day_in_service }}, {{ observed_through_date }}))
            - greatest({{ month_start_date }}, {{ first_full_day }})
            + 1
        )
    end
{%- endmacro %}

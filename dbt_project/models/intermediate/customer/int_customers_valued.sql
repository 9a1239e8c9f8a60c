with

customer_months as (

    select * from {{ ref('int_customer_months_billed') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_aggregated_to_customers') }}

),

-- The last arpu_months observed months, the as-of month (the month of the data's last day) included.
window_months as (

    select
        months.month_start_date,
        months.observed_through_date,
        months.days_observed,
        row_number() over (order by months.month_start_date desc) as months_back
    from months

),

-- A customer's window months side by side (1 the as-of month, 2 the one before, ...): the revenue,
-- days in service and days observed of each. A customer has one row a month (the customer-months'
-- key, held by a unique index), so a month's `max` is its row. Until 2026-12-06 the window was summed
-- in numeric aggregates, whose state per customer (a million at 1M customers) spilled to disk: twice
-- the time of these, whose state is a value.
customer_month_columns as (

    select
        {% for back in range(1, var('arpu_months') + 1) %}
            max(customer_months.revenue_excl_tax) filter (where window_months.months_back = {{ back }})
                as revenue_excl_tax_{{ back }},
            sum({{ days_in_service(
                'customer_months.first_full_day', 'customer_months.last_day_in_service',
                'customer_months.month_start_date', 'window_months.observed_through_date'
            ) }}) filter (where window_months.months_back = {{ back }}) as days_in_service_{{ back }},
            max(window_months.days_observed) filter (where window_months.months_back = {{ back }})
                as days_observed_{{ back }},
        {% endfor %}
        customer_months.customer_id
    from customer_months
    inner join window_months
        on customer_months.month_start_date = window_months.month_start_date
    where window_months.months_back <= {{ var('arpu_months') }}
    group by customer_months.customer_id

),

-- The window's sums (numeric addition is exact: the same values the aggregates gave).
customer_windows as (

    select
        customer_id,
        0
        {% for back in range(1, var('arpu_months') + 1) %}
            + coalesce(revenue_excl_tax_{{ back }}, 0)
        {% endfor %}
            as window_revenue_excl_tax,
        0
        {% for back in range(1, var('arpu_months') + 1) %}
            + coalesce(days_in_service_{{ back }}::numeric / days_observed_{{ back }}, 0)
        {% endfor %}
            as window_subscriber_months,
        coalesce(revenue_excl_tax_1, 0) as as_of_month_revenue_excl_tax,
        {{ 'coalesce(revenue_excl_tax_2, 0)' if var('arpu_months') >= 2 else '0::numeric' }}
            as previous_month_revenue_excl_tax
    from customer_month_columns

),

valued as (

    select
        subscriptions.customer_id,
        subscriptions.is_churned,
        coalesce(customer_windows.window_revenue_excl_tax, 0) as window_revenue_excl_tax,
        coalesce(customer_windows.window_subscriber_months, 0) as window_subscriber_months,
        coalesce(customer_windows.as_of_month_revenue_excl_tax, 0) as as_of_month_revenue_excl_tax,
        coalesce(customer_windows.previous_month_revenue_excl_tax, 0) as previous_month_revenue_excl_tax,
        -- DOMAIN.md ARPU for one customer: revenue / average active subscribers (the customer's share of
        -- the window's days in service) / months
        customer_windows.window_revenue_excl_tax
        / nullif(customer_windows.window_subscriber_months, 0) as arpu
    from subscriptions
    left join customer_windows
        on subscriptions.customer_id = customer_windows.customer_id

),

final as (

    select
        customer_id,
        round(window_revenue_excl_tax, 2) as window_revenue_excl_tax,
        round(window_subscriber_months, 6) as window_subscriber_months,
        as_of_month_revenue_excl_tax,
        previous_month_revenue_excl_tax,
        round(arpu, 4) as arpu_3m,
        round(arpu * {{ var('clv_margin_rate') }}, 4) as monthly_margin,
        -- DOMAIN.md CLV = m * r / (1 + i - r); a churned customer has no future value
        case
            when is_churned then 0
            else round(
                arpu * {{ var('clv_margin_rate') }} * {{ var('clv_monthly_retention') }}
                / (1 + {{ var('clv_monthly_discount_rate') }} - {{ var('clv_monthly_retention') }}),
                2
            )
        end as clv
    from valued

)

select * from final

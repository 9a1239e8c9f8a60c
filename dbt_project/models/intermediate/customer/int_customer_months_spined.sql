with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_aggregated_to_customers') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

-- A customer is in service from the first activation until the churn (every subscription churned);
-- customers known only to other sources (orphans) have no subscriptions and no row here.
customer_periods as (

    select
        customers.customer_id,
        customers.province as region,
        (customers.signed_up_at at time zone 'UTC')::date as signed_up_date,
        subscriptions.first_activated_at,
        subscriptions.churned_at,
        subscriptions.churn_type,
        -- the first day the customer is in service at 00:00 UTC, and the last
        (subscriptions.first_activated_at at time zone 'UTC')::date + 1 as first_full_day,
        (subscriptions.churned_at at time zone 'UTC')::date as last_day_in_service
    from customers
    inner join subscriptions
        on customers.customer_id = subscriptions.customer_id
    where subscriptions.first_activated_at is not null

),

-- One row per customer and observed month in which the customer was in service at some moment.
spined as (

    select
        customer_periods.customer_id,
        customer_periods.region,
        customer_periods.signed_up_date,
        months.month_start_date,
        months.observed_through_date,
        customer_periods.first_activated_at,
        customer_periods.churned_at,
        customer_periods.churn_type,
        customer_periods.first_full_day,
        customer_periods.last_day_in_service
    from customer_periods
    inner join months
        on
            customer_periods.first_activated_at < (months.observed_through_date + 1)::timestamp at time zone 'UTC'
            and (
                customer_periods.churned_at is null
                or customer_periods.churned_at >= months.month_start_date::timestamp at time zone 'UTC'
            )

),

final as (

    select
        customer_id || '|' || to_char(month_start_date, 'YYYY-MM') as customer_month_id,
        customer_id,
        month_start_date,
        region,
        {{ tenure_segment('signed_up_date', 'month_start_date') }} as tenure_segment,
        -- active at the month's start: activated before 00:00 UTC of its first day, not churned by then
        (
            first_activated_at < month_start_date::timestamp at time zone 'UTC'
            and (churned_at is null or churned_at >= month_start_date::timestamp at time zone 'UTC')
        ) as is_active_at_month_start,
        coalesce(date_trunc('month', churned_at at time zone 'UTC')::date = month_start_date, false)
            as is_churned_in_month,
        case
            when date_trunc('month', churned_at at time zone 'UTC')::date = month_start_date then churn_type
        end as churn_type,
        -- the days of service, which the customer-months keep; the days of the month as observed at
        -- whose 00:00 UTC the customer was in service (ARPU's denominator), as their readers count them
        first_full_day,
        last_day_in_service,
        {{ days_in_service('first_full_day', 'last_day_in_service', 'month_start_date', 'observed_through_date') }}
            as subscriber_days
    from spined

)

select * from final

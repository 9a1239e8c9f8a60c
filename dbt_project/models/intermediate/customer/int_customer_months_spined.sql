-- Incremental (dbt_project.yml), like int_customer_months_billed (macros/customer_months.sql): a row
-- holds nothing that depends on the data's last day (the days of service, not the days in service as
-- observed), so a run builds the months observed since its last build for every customer and every
-- month of the customers with a change landed since or newly in service; its pre-hook has deleted
-- those rows, and they are appended.
-- depends_on: {{ ref('snap_crm__subscriptions') }}, {{ ref('stg_crm__subscriptions') }} (read on incremental runs)

with
{{ changed_customers_ctes() }}
customers as (

    select
        kept.*,
        -- every month of a changed customer is built again (true on a full build)
        {{ changed_customers_scope() }} as is_changed
    from {{ ref('stg_crm__customers') }} as kept
    {{ changed_customers_join('kept.customer_id') }}

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
        customers.is_changed,
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
    {% if changed_customers_scoped() -%}
        -- the months observed since the last build, for every customer (macros/customer_months.sql)
        where months.month_start_date >= {{ customer_months_first_rebuilt() }} or customer_periods.is_changed
    {%- endif %}

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
        -- the days of service, not the days in service of the month as observed (ARPU's
        -- denominator, which readers count: macro days_in_service): a row does not change as the
        -- data's last day moves on
        first_full_day,
        last_day_in_service
    from spined

)

select * from final

-- depends_on: {{ ref('int_customers_valued') }}
-- (read by no query: a scheduling edge. dbt runs a build level by level of its graph and breaks ties
-- by name, so this mart, ready as soon as the customer-months are, took a thread before
-- int_customers_valued and held up the customer 360's serial tail (valued, RFM-scored, dim_customers);
-- after it, it runs beside that tail: docs/warehouse.md, the customer 360)
with

customer_months as (

    select * from {{ ref('int_customer_months_billed') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

-- The days in service of each month as observed (the customer-months keep the days of service).
counted as (

    select
        customer_months.*,
        months.days_observed,
        months.is_complete as is_complete_month,
        {{ days_in_service(
            'customer_months.first_full_day', 'customer_months.last_day_in_service',
            'customer_months.month_start_date', 'months.observed_through_date'
        ) }} as subscriber_days
    from customer_months
    inner join months
        on customer_months.month_start_date = months.month_start_date

),

shared as (

    select
        counted.*,
        round(1.0 * counted.subscriber_days / counted.days_observed, 6) as subscriber_months
    from counted

),

final as (

    select
        customer_month_id,
        customer_id,
        month_start_date,
        region,
        tenure_segment,
        days_observed,
        is_complete_month,
        is_active_at_month_start,
        is_churned_in_month,
        churn_type,
        subscriber_days,
        subscriber_months,
        invoice_count,
        revenue_excl_tax,
        tax_amount,
        amount_incl_tax,
        paid_amount,
        settled_payment_count,
        late_payment_count,
        failed_payment_count,
        round(revenue_excl_tax / nullif(subscriber_months, 0), 4) as arpu
    from shared

)

select * from final

with

customer_months as (

    select * from {{ ref('int_customer_months_billed') }}

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
    from customer_months

)

select * from final

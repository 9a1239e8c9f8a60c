with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

activity as (

    select * from {{ ref('int_customer_activity_summarised') }}

),

final as (

    select
        customers.customer_id,
        customers.gender,
        customers.age_band,
        customers.province,
        customers.city,
        customers.signed_up_at::date as signed_up_date,
        (
            date_part('year', age(current_date, customers.signed_up_at::date)) * 12
            + date_part('month', age(current_date, customers.signed_up_at::date))
        )::int as tenure_months,
        activity.plan_code,
        activity.plan_name,
        activity.monthly_fee,
        activity.contract_months,
        activity.subscription_status,
        activity.is_churned,
        activity.churned_at,
        activity.churn_type,
        activity.subscription_count,
        activity.pay_method,
        activity.invoice_count,
        activity.billed_amount_excl_tax,
        activity.failed_payment_count,
        activity.complaint_count,
        activity.last_nps_score,
        activity.last_nps_category,
        activity.survey_response_count
    from customers
    inner join activity
        on customers.customer_id = activity.customer_id

)

select * from final

with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_aggregated_to_customers') }}

),

billing as (

    select * from {{ ref('int_billing_aggregated_to_customers') }}

),

complaints as (

    select * from {{ ref('int_tickets_aggregated_to_customers') }}

),

surveys as (

    select * from {{ ref('int_survey_responses_aggregated_to_customers') }}

),

joined as (

    select
        customers.customer_id,
        customers.gender,
        customers.age_band,
        customers.province,
        customers.city,
        (customers.signed_up_at at time zone 'UTC')::date as signed_up_date,
        -- tenure runs to the churn date for a churned customer (churned_at is null otherwise), to today
        (coalesce(subscriptions.churned_at, current_timestamp) at time zone 'UTC')::date as tenure_end_date,
        subscriptions.current_subscription_id,
        subscriptions.plan_code,
        subscriptions.plan_name,
        subscriptions.monthly_fee,
        subscriptions.contract_months,
        subscriptions.subscription_status,
        coalesce(subscriptions.is_churned, false) as is_churned,
        subscriptions.churned_at,
        subscriptions.churn_type,
        coalesce(subscriptions.subscription_count, 0) as subscription_count,
        coalesce(subscriptions.active_subscription_count, 0) as active_subscription_count,
        billing.account_id,
        billing.pay_method,
        coalesce(billing.invoice_count, 0) as invoice_count,
        coalesce(billing.billed_amount_excl_tax, 0) as billed_amount_excl_tax,
        billing.last_billing_month,
        coalesce(billing.late_payment_count, 0) as late_payment_count,
        coalesce(billing.failed_payment_count, 0) as failed_payment_count,
        coalesce(complaints.complaint_count, 0) as complaint_count,
        coalesce(complaints.open_complaint_count, 0) as open_complaint_count,
        complaints.last_complaint_at,
        coalesce(surveys.survey_response_count, 0) as survey_response_count,
        surveys.last_nps_score,
        surveys.last_nps_category,
        surveys.last_nps_submitted_at
    from customers
    left join subscriptions
        on customers.customer_id = subscriptions.customer_id
    left join billing
        on customers.customer_id = billing.customer_id
    left join complaints
        on customers.customer_id = complaints.customer_id
    left join surveys
        on customers.customer_id = surveys.customer_id

),

final as (

    select
        customer_id,
        gender,
        age_band,
        province,
        city,
        signed_up_date,
        {{ months_between('signed_up_date', 'tenure_end_date') }} as tenure_months,
        current_subscription_id,
        plan_code,
        plan_name,
        monthly_fee,
        contract_months,
        subscription_status,
        is_churned,
        churned_at,
        churn_type,
        subscription_count,
        active_subscription_count,
        account_id,
        pay_method,
        invoice_count,
        billed_amount_excl_tax,
        last_billing_month,
        late_payment_count,
        failed_payment_count,
        complaint_count,
        open_complaint_count,
        last_complaint_at,
        survey_response_count,
        last_nps_score,
        last_nps_category,
        last_nps_submitted_at
    from joined

)

select * from final

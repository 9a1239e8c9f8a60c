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

valued as (

    select * from {{ ref('int_customers_valued') }}

),

rfm as (

    select * from {{ ref('int_customers_rfm_scored') }}

),

experience as (

    select * from {{ ref('int_network_experience_aggregated_to_customers') }}

),

-- the day every "now" of this model counts to (macro as_of_day): the data's last day, never current_date
as_of as (

    {{ as_of_day() }}

),

joined as (

    select
        customers.customer_id,
        customers.gender,
        customers.age_band,
        customers.province,
        customers.city,
        (customers.signed_up_at at time zone 'UTC')::date as signed_up_date,
        as_of.as_of_date,
        -- tenure runs to the churn date for a churned customer (churned_at is null otherwise), else to
        -- the as-of day
        coalesce((subscriptions.churned_at at time zone 'UTC')::date, as_of.as_of_date) as tenure_end_date,
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
        coalesce(billing.settled_payment_count, 0) as settled_payment_count,
        coalesce(billing.late_payment_count, 0) as late_payment_count,
        coalesce(billing.failed_payment_count, 0) as failed_payment_count,
        billing.on_time_payment_rate,
        coalesce(billing.payment_behaviour, 'no payments') as payment_behaviour,
        billing.last_paid_at,
        valued.arpu_3m,
        valued.clv,
        valued.as_of_month_revenue_excl_tax,
        valued.previous_month_revenue_excl_tax,
        rfm.recency_score,
        rfm.frequency_score,
        rfm.monetary_score,
        rfm.rfm_cell,
        rfm.rfm_segment,
        coalesce(complaints.complaint_count, 0) as complaint_count,
        coalesce(complaints.open_complaint_count, 0) as open_complaint_count,
        complaints.last_complaint_at,
        coalesce(complaints.recent_complaint_count, 0) as recent_complaint_count,
        coalesce(complaints.recent_sla_breach_count, 0) as recent_sla_breach_count,
        complaints.fcr_rate,
        coalesce(surveys.survey_response_count, 0) as survey_response_count,
        surveys.last_nps_score,
        surveys.last_nps_category,
        surveys.last_nps_submitted_at,
        surveys.last_csat_score,
        surveys.last_csat_scale_max,
        surveys.last_csat_category,
        surveys.last_csat_submitted_at,
        coalesce(experience.recent_usage_day_count, 0) as recent_usage_day_count,
        experience.network_experience_score,
        experience.poor_coverage_share
    from customers
    cross join as_of
    left join subscriptions
        on customers.customer_id = subscriptions.customer_id
    left join billing
        on customers.customer_id = billing.customer_id
    left join complaints
        on customers.customer_id = complaints.customer_id
    left join surveys
        on customers.customer_id = surveys.customer_id
    left join valued
        on customers.customer_id = valued.customer_id
    left join rfm
        on customers.customer_id = rfm.customer_id
    left join experience
        on customers.customer_id = experience.customer_id

),

staged as (

    select
        joined.*,
        {{ months_between('joined.signed_up_date', 'joined.tenure_end_date') }} as tenure_months,
        -- churn-risk signals of DOMAIN.md's decline stage: falling spend, a detractor, a failed payment,
        -- an RFM "at risk"
        (
            joined.previous_month_revenue_excl_tax > 0
            and joined.as_of_month_revenue_excl_tax
            < {{ var('lifecycle_decline_spend_ratio') }} * joined.previous_month_revenue_excl_tax
        ) as has_falling_spend,
        (
            coalesce(joined.last_nps_category = 'detractor', false)
            or joined.failed_payment_count > 0
            or coalesce(joined.rfm_segment = 'at risk', false)
        ) as has_churn_risk_signal
    from joined

),

final as (

    select
        customer_id,
        gender,
        age_band,
        province,
        city,
        signed_up_date,
        as_of_date,
        tenure_months,
        case
            when is_churned then 'churned'
            when tenure_months < {{ var('lifecycle_acquisition_months') }} then 'acquisition'
            when coalesce(has_falling_spend or has_churn_risk_signal, false) then 'decline'
            when tenure_months < {{ var('lifecycle_maturity_months') }} then 'growth'
            else 'maturity'
        end as lifecycle_stage,
        current_subscription_id,
        plan_code,
        plan_name,
        monthly_fee,
        contract_months,
        subscription_status,
        is_churned,
        churned_at,
        (churned_at at time zone 'UTC')::date as churned_date,
        date_trunc('month', churned_at at time zone 'UTC')::date as churn_month_start_date,
        churn_type,
        subscription_count,
        active_subscription_count,
        account_id,
        pay_method,
        invoice_count,
        billed_amount_excl_tax,
        last_billing_month,
        arpu_3m,
        clv,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_cell,
        rfm_segment,
        settled_payment_count,
        late_payment_count,
        failed_payment_count,
        on_time_payment_rate,
        payment_behaviour,
        last_paid_at,
        complaint_count,
        open_complaint_count,
        last_complaint_at,
        recent_complaint_count,
        recent_sla_breach_count,
        fcr_rate,
        survey_response_count,
        last_nps_score,
        last_nps_category,
        last_nps_submitted_at,
        last_csat_score,
        last_csat_scale_max,
        last_csat_category,
        last_csat_submitted_at,
        recent_usage_day_count,
        network_experience_score,
        poor_coverage_share
    from staged

)

select * from final

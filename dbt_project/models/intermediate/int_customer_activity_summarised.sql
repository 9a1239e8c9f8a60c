with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

subscriptions as (

    select * from {{ ref('stg_crm__subscriptions') }}

),

tickets as (

    select * from {{ ref('stg_crm__tickets') }}

),

accounts as (

    select * from {{ ref('stg_billing__accounts') }}

),

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

),

current_subscription as (

    select distinct on (subscriptions.customer_id)
        subscriptions.customer_id,
        subscriptions.plan_code,
        subscriptions.plan_name,
        subscriptions.monthly_fee,
        subscriptions.contract_months,
        subscriptions.subscription_status,
        subscriptions.is_churned,
        subscriptions.deactivated_at,
        subscriptions.churn_type
    from subscriptions
    order by
        subscriptions.customer_id asc,
        subscriptions.is_churned asc,
        subscriptions.activated_at desc,
        subscriptions.subscription_id desc

),

subscription_counts as (

    select
        subscriptions.customer_id,
        count(*) as subscription_count
    from subscriptions
    group by subscriptions.customer_id

),

billing as (

    select
        accounts.customer_id,
        min(accounts.pay_method) as pay_method,
        count(distinct invoices.invoice_id) as invoice_count,
        coalesce(sum(invoices.amount_excl_tax), 0) as billed_amount_excl_tax
    from accounts
    left join invoices
        on accounts.account_id = invoices.account_id
    group by accounts.customer_id

),

failed_payments as (

    select
        accounts.customer_id,
        count(*) as failed_payment_count
    from payments
    inner join invoices
        on payments.invoice_id = invoices.invoice_id
    inner join accounts
        on invoices.account_id = accounts.account_id
    where payments.payment_status = 'failed'
    group by accounts.customer_id

),

complaints as (

    select
        tickets.customer_id,
        count(*) as complaint_count
    from tickets
    group by tickets.customer_id

),

last_nps as (

    select distinct on (responses.customer_id)
        responses.customer_id,
        responses.score as last_nps_score,
        responses.nps_category as last_nps_category
    from responses
    where responses.survey_type = 'nps'
    order by responses.customer_id asc, responses.submitted_at desc, responses.answer_id desc

),

response_counts as (

    select
        responses.customer_id,
        count(distinct responses.response_id) as survey_response_count
    from responses
    group by responses.customer_id

),

final as (

    select
        customers.customer_id,
        current_subscription.plan_code,
        current_subscription.plan_name,
        current_subscription.monthly_fee,
        current_subscription.contract_months,
        current_subscription.subscription_status,
        coalesce(current_subscription.is_churned, false) as is_churned,
        current_subscription.deactivated_at as churned_at,
        current_subscription.churn_type,
        coalesce(subscription_counts.subscription_count, 0) as subscription_count,
        billing.pay_method,
        coalesce(billing.invoice_count, 0) as invoice_count,
        coalesce(billing.billed_amount_excl_tax, 0) as billed_amount_excl_tax,
        coalesce(failed_payments.failed_payment_count, 0) as failed_payment_count,
        coalesce(complaints.complaint_count, 0) as complaint_count,
        last_nps.last_nps_score,
        last_nps.last_nps_category,
        coalesce(response_counts.survey_response_count, 0) as survey_response_count
    from customers
    left join current_subscription
        on customers.customer_id = current_subscription.customer_id
    left join subscription_counts
        on customers.customer_id = subscription_counts.customer_id
    left join billing
        on customers.customer_id = billing.customer_id
    left join failed_payments
        on customers.customer_id = failed_payments.customer_id
    left join complaints
        on customers.customer_id = complaints.customer_id
    left join last_nps
        on customers.customer_id = last_nps.customer_id
    left join response_counts
        on customers.customer_id = response_counts.customer_id

)

select * from final

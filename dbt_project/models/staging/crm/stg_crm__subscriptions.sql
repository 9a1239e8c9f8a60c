with

source as (

    select * from {{ source('raw_crm', 'subscriptions') }}

),

latest as (

    {{ latest_version('source', 'subscription_id') }}

),

renamed as (

    select
        subscription_id,
        customer_id,
        -- keyed token of the mobile number: joins network experience to the subscription, reveals nothing
        {{ pii('raw_crm', 'subscriptions', 'msisdn', normalise_mobile('msisdn')) }} as msisdn_token,
        plan_code,
        plan_name,
        monthly_fee,
        contract_months,
        status as subscription_status,
        status = 'churned' as is_churned,
        activated_at,
        deactivated_at,
        churn_type,
        updated_at,
        -- when the kept version landed: the customer-days re-assign the numbers of the subscriptions
        -- landed since their last run (int_subscriber_days_aggregated_to_customers)
        _loaded_at
    from latest

)

select * from renamed

with

source as (

    select
        *,
        {{ latest_per_key('subscription_id') }} as version_rank
    from {{ source('raw_crm', 'subscriptions') }}

),

renamed as (

    select
        subscription_id,
        customer_id,
        plan_code,
        plan_name,
        monthly_fee,
        contract_months,
        status as subscription_status,
        activated_at,
        deactivated_at,
        churn_type,
        status = 'churned' as is_churned,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

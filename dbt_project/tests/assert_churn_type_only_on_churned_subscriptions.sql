{{ config(severity='warn') }}
-- Subscriptions whose churn fields disagree with their status: a churned subscription has a
-- deactivation time and a churn type; one in service has neither.
with

subscriptions as (

    select * from {{ ref('stg_crm__subscriptions') }}

),

inconsistent as (

    select
        subscription_id,
        subscription_status,
        deactivated_at,
        churn_type
    from subscriptions
    where
        (is_churned and (deactivated_at is null or churn_type is null))
        or (not is_churned and churn_type is not null)

)

select * from inconsistent

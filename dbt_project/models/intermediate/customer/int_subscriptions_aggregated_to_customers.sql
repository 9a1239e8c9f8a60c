-- Incremental (dbt_project.yml): a run builds again the customers that hold or held a subscription
-- landed since (macros/changed_customers.sql); its pre-hook has deleted their rows, and they are
-- appended. Nothing here depends on the as-of day. On an incremental run the scoped read is
-- materialised (the planner filters it to the few changed customers first).
-- depends_on: {{ ref('snap_crm__subscriptions') }} (read on incremental runs)

with
{{ changed_customers_ctes() }}
subscriptions as {{ 'materialized' if changed_customers_scoped() }} (

    select kept.* from {{ ref('stg_crm__subscriptions') }} as kept
    {{ changed_customers_join('kept.customer_id') }}
    where {{ changed_customers_scope() }}

),

-- The subscription in service (active or suspended) activated last; when none is in service, the
-- one activated last.
current_subscriptions as (

    select distinct on (subscriptions.customer_id)
        subscriptions.customer_id,
        subscriptions.subscription_id,
        subscriptions.plan_code,
        subscriptions.plan_name,
        subscriptions.monthly_fee,
        subscriptions.contract_months,
        subscriptions.subscription_status
    from subscriptions
    order by
        subscriptions.customer_id asc,
        subscriptions.is_churned asc,
        subscriptions.activated_at desc,
        subscriptions.subscription_id desc

),

-- The subscription deactivated last, for the churn type of a customer who churned.
last_churned_subscriptions as (

    select distinct on (subscriptions.customer_id)
        subscriptions.customer_id,
        subscriptions.churn_type
    from subscriptions
    where subscriptions.is_churned
    order by
        subscriptions.customer_id asc,
        subscriptions.deactivated_at desc nulls last,
        subscriptions.subscription_id desc

),

subscription_counts as (

    select
        subscriptions.customer_id,
        count(*) as subscription_count,
        count(*) filter (where subscriptions.subscription_status = 'active') as active_subscription_count,
        bool_and(subscriptions.is_churned) as is_churned,
        min(subscriptions.activated_at) as first_activated_at,
        max(subscriptions.deactivated_at) as last_deactivated_at
    from subscriptions
    group by subscriptions.customer_id

),

final as (

    select
        subscription_counts.customer_id,
        current_subscriptions.subscription_id as current_subscription_id,
        current_subscriptions.plan_code,
        current_subscriptions.plan_name,
        current_subscriptions.monthly_fee,
        current_subscriptions.contract_months,
        current_subscriptions.subscription_status,
        subscription_counts.is_churned,
        case when subscription_counts.is_churned then subscription_counts.last_deactivated_at end as churned_at,
        case when subscription_counts.is_churned then last_churned_subscriptions.churn_type end as churn_type,
        subscription_counts.subscription_count,
        subscription_counts.active_subscription_count,
        subscription_counts.first_activated_at
    from subscription_counts
    inner join current_subscriptions
        on subscription_counts.customer_id = current_subscriptions.customer_id
    left join last_churned_subscriptions
        on subscription_counts.customer_id = last_churned_subscriptions.customer_id

)

select * from final

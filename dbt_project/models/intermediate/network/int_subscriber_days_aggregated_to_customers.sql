{{ config(unique_key='customer_day_id') }}
{#- Incremental (dbt_project.yml): the days from incremental_lookback_days before the latest day
    built are assigned again (a subscription the CRM reports late), and any day staging merged in
    this run (late and redelivered files); older days change only with `--full-refresh`
    (`telco-dw rebuild --full-refresh`, which erasure runs). The rows the merge inserts or changes
    carry this run's stamp (`_merged_at`): the facts downstream merge those rows only
    (macros/merge_window.sql). -#}

with

subscriber_days as (

    select * from {{ ref('stg_network__subscriber_experience_daily') }}
    {% if is_incremental() -%}
        where usage_date >= {{ merge_window_start('usage_date', ref('stg_network__subscriber_experience_daily')) }}
    {%- endif %}

),

-- read three times, each read inlined (a table with statistics, where a copied CTE has none and
-- the planner would hash the days instead of the subscriptions)
subscriptions as not materialized (

    select * from {{ ref('stg_crm__subscriptions') }}

),

-- The subscriptions of numbers held by more than one subscription over time (recycled numbers): the
-- only days with a choice of owner. Small, so the anti-join below holds it in memory while the days
-- stream past it.
recycled as (

    select *
    from subscriptions
    where msisdn_token in (
        select shared.msisdn_token
        from subscriptions as shared
        group by shared.msisdn_token
        having count(*) > 1
    )

),

-- The subscription that held the number on the day (activated by its end, not churned before its
-- start; of several, the latest activated): a recycled number belongs to a new owner from the new
-- activation on. Days of numbers the CRM does not know are left out. An anti-join, not a
-- `distinct on` over the days: most numbers have one subscription, and sorting every subscriber-day
-- by its token to find that out was the model's dearest step.
owned as (

    select
        subscriber_days.usage_date,
        subscriber_days.volume_mb,
        subscriber_days.avg_dl_mbps,
        subscriber_days.avg_rsrp_dbm,
        subscriptions.customer_id
    from subscriber_days
    inner join subscriptions
        on
            subscriber_days.msisdn_token = subscriptions.msisdn_token
            and subscriptions.activated_at < (subscriber_days.usage_date + 1)::timestamp at time zone 'UTC'
            and (
                subscriptions.deactivated_at is null
                or subscriptions.deactivated_at >= subscriber_days.usage_date::timestamp at time zone 'UTC'
            )
    where not exists (
        select
        from recycled as later
        where
            later.msisdn_token = subscriptions.msisdn_token
            and (later.activated_at, later.subscription_id)
            > (subscriptions.activated_at, subscriptions.subscription_id)
            and later.activated_at < (subscriber_days.usage_date + 1)::timestamp at time zone 'UTC'
            and (
                later.deactivated_at is null
                or later.deactivated_at >= subscriber_days.usage_date::timestamp at time zone 'UTC'
            )
    )

),

-- One row per customer and day: a customer with several numbers has their volumes summed and their
-- measurements averaged over the numbers.
final as (

    select
        owned.customer_id || '@' || to_char(owned.usage_date, 'YYYY-MM-DD') as customer_day_id,
        owned.customer_id,
        owned.usage_date,
        count(*) as subscriber_count,
        sum(owned.volume_mb) as volume_mb,
        round(avg(owned.avg_dl_mbps), 2) as avg_dl_mbps,
        round(avg(owned.avg_rsrp_dbm), 1) as avg_rsrp_dbm,
        -- when the row was written with these values: what fct_customer_experience_daily reads on from
        {{ merge_window_stamp() }} as _merged_at
    from owned
    group by owned.customer_id, owned.usage_date

)

select * from final

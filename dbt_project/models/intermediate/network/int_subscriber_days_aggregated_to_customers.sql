{{ config(unique_key='customer_day_id') }}
{#- Incremental (dbt_project.yml). A run assigns again:
    - every subscriber-day of the days staged since its last run (the new day, a late or redelivered
      file of any age): `_loaded_at` above the `read_through` its table records for staging;
    - the days of the numbers whose subscriptions the CRM changed since (`_loaded_at` above the
      `read_through` recorded for stg_crm__subscriptions), from the first day their owner may
      differ (see `moved`), for every customer that holds or held one of them: a subscription
      reported late, at any age, and a churn or a new owner of a recycled number.
    A customer-day the assignment leaves without any number stays as it was (the merge deletes
    nothing); `telco-dw rebuild --full-refresh` (which erasure runs) rebuilds every day. The rows the
    merge inserts or changes carry this run's stamp (`_merged_at`): the facts downstream merge those
    rows only (macros/merge_window.sql). A table without `read_through` (built by an earlier
    telco-dw) assigns again the days from incremental_lookback_days before its latest day, once. -#}
{%- set incremental = is_incremental() -%}
{%- set days_read_through = merge_window_read_through('stg_network__subscriber_experience_daily') if incremental -%}
{%- set subscriptions_read_through = merge_window_read_through('stg_crm__subscriptions') if incremental -%}
{%- set by_change = days_read_through and subscriptions_read_through -%}
{%- if by_change and execute -%}
    {#- the days staged since this table's last run, as a literal (macros/merge_window.sql) -#}
    {%- set staged_days = merge_window_staged_days(
        ref('stg_network__subscriber_experience_daily'), 'usage_date', days_read_through
    ) -%}
{%- else -%}
    {%- set staged_days = "'{}'::date[]" -%}
{%- endif %}
-- depends_on: {{ ref('snap_crm__subscriptions') }} (read on incremental runs)

with

-- read three times, each read inlined (a table with statistics, where a copied CTE has none and
-- the planner would hash the days instead of the subscriptions)
subscriptions as not materialized (

    select * from {{ ref('stg_crm__subscriptions') }}

),
{% if by_change %}

-- The subscriptions landed since this table's last run, each against every version of it the
-- snapshot holds that landed before (the ownership the earlier runs assigned): the numbers whose
-- owner may differ and their customers, then and now, from the first moment it may. A new
-- subscription (or one reported late) moves its number from its activation; a version of another
-- customer or number, both numbers from the earlier activation; a changed activation or
-- deactivation, from the earlier of the two. A version that owns the same days moves nothing.
changed as (

    select subscription_id, customer_id, msisdn_token, activated_at, deactivated_at
    from subscriptions
    where _loaded_at > '{{ subscriptions_read_through }}'::timestamptz

),

-- (the versions of the changed subscriptions only: read twice, a copy of every version was 250 MB
-- written to disk at 1M customers)
earlier as (

    select *
    from {{ ref('snap_crm__subscriptions') }} as versions
    -- a version snapshotted by an earlier telco-dw has no `_loaded_at`: it was seen
    where
        coalesce(versions._loaded_at <= '{{ subscriptions_read_through }}'::timestamptz, true)
        and versions.subscription_id in (select changed.subscription_id from changed)

),

moved as materialized (

    select changed.msisdn_token, changed.customer_id, changed.activated_at as moved_at
    from changed
    where not exists (select from earlier where earlier.subscription_id = changed.subscription_id)

    union all

    select affected.msisdn_token, affected.customer_id, versions.moved_at
    from changed
    inner join earlier
        on changed.subscription_id = earlier.subscription_id
    cross join lateral (
        select case
            when (earlier.customer_id, earlier.msisdn_token) is distinct from (changed.customer_id, changed.msisdn_token)
                then least(earlier.activated_at, changed.activated_at)
            -- least() passes over nulls: a deactivation that appeared or went counts from its day
            else least(
                case when earlier.activated_at is distinct from changed.activated_at
                    then least(earlier.activated_at, changed.activated_at) end,
                case when earlier.deactivated_at is distinct from changed.deactivated_at
                    then least(earlier.deactivated_at, changed.deactivated_at) end
            )
        end as moved_at
    ) as versions
    cross join lateral (
        values (changed.msisdn_token, changed.customer_id), (earlier.msisdn_token, earlier.customer_id)
    ) as affected (msisdn_token, customer_id)
    where versions.moved_at is not null

),

-- Every customer whose days may change: the owners of the moved numbers, then and now, and every
-- customer with a subscription on one (a recycled number's other owners).
reassigned_customers as materialized (

    select moved.customer_id from moved
    union
    select subscriptions.customer_id
    from subscriptions
    where subscriptions.msisdn_token in (select moved.msisdn_token from moved)

),

-- Their numbers (a customer-day sums all of them) and the moved ones.
reassigned_numbers as materialized (

    select subscriptions.msisdn_token
    from subscriptions
    where subscriptions.customer_id in (select reassigned_customers.customer_id from reassigned_customers)
    union
    select moved.msisdn_token from moved

),

{% endif %}

subscriber_days as (

    {% if by_change -%}
        select staged.*
        from {{ ref('stg_network__subscriber_experience_daily') }} as staged
        -- every subscriber-day of the days staged since this table's last run
        where staged.usage_date = any({{ staged_days }})

        union all

        -- the reassigned numbers' other days, through the index on the day from the first one moved
        select staged.*
        from {{ ref('stg_network__subscriber_experience_daily') }} as staged
        where
            staged.usage_date >= (select min(moved.moved_at at time zone 'UTC')::date from moved)
            -- bounded on both sides: the planner expects a range of days, not a third of the table
            and staged.usage_date <= (
                select max(latest.usage_date) from {{ ref('stg_network__subscriber_experience_daily') }} as latest
            )
            and staged.usage_date <> all({{ staged_days }})
            and staged.msisdn_token in (select reassigned_numbers.msisdn_token from reassigned_numbers)
    {%- else -%}
        select * from {{ ref('stg_network__subscriber_experience_daily') }}
        {%- if incremental %}
            where usage_date >= {{ merge_window_start('usage_date', ref('stg_network__subscriber_experience_daily')) }}
        {%- endif %}
    {%- endif %}

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
    {% if by_change -%}
        -- of the reassigned numbers' days that were not staged, their customers' only: another
        -- customer's day holds numbers not read
        where
            owned.usage_date = any({{ staged_days }})
            or owned.customer_id in (select reassigned_customers.customer_id from reassigned_customers)
    {%- endif %}
    group by owned.customer_id, owned.usage_date

)

select * from final

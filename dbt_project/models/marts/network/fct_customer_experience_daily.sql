{{
    config(
        unique_key='customer_day_id',
        post_hook=["{{ delete_vanished_customers(ref('stg_crm__customers')) }}"]
    )
}}
{#- The post-hook removes the days of customers no longer in the CRM (macros/delete_vanished_customers.sql).
    The CRM's customers are read from staging, which dim_customers has one row for each of: the facts
    are built as soon as the customer-days are, beside the customer 360 rather than after it. -#}

with

customer_days as (

    select * from {{ ref('int_subscriber_days_aggregated_to_customers') }}

),

customers as (

    select customer_id from {{ ref('stg_crm__customers') }}

),

-- Incremental: the customer-days written since the run that last merged into this table started
-- (their `_merged_at`): a new day, a late or redelivered file's day, a number assigned anew. A table
-- without that record (built by an earlier telco-dw) re-merges the lookback days once.
recent_days as (

    select customer_days.*
    from customer_days
    -- customers the CRM knows only (those of dim_customers)
    inner join customers
        on customer_days.customer_id = customers.customer_id
    {% if is_incremental() -%}
        where {{ merge_window_stamped_rows(
            'customer_days._merged_at',
            'customer_days.usage_date >= ' ~ merge_window_start('usage_date', ref('int_subscriber_days_aggregated_to_customers'))
        ) }}
    {%- endif %}

),

final as (

    select
        customer_day_id,
        customer_id,
        usage_date,
        subscriber_count,
        volume_mb,
        volume_mb > 0 as is_active_day,
        avg_dl_mbps,
        avg_rsrp_dbm,
        {{ rsrp_quality_bin('avg_rsrp_dbm') }} as rsrp_quality_bin,
        avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} as is_poor_coverage,
        {{ experience_score(rsrp_quality_bin('avg_rsrp_dbm')) }} as experience_score
    from recent_days

)

select * from final

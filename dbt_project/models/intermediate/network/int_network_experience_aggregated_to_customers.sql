with

customer_days as (

    select * from {{ ref('int_subscriber_days_aggregated_to_customers') }}

),

-- The as-of day: the data's last day (int_months_observed), never current_date.
as_of as (

    {{ as_of_day() }}

),

-- The customer's days in the trailing window of customer_window_days ending on the as-of day.
recent_days as (

    select
        customer_days.*,
        {{ experience_score(rsrp_quality_bin('customer_days.avg_rsrp_dbm')) }} as experience_score
    from customer_days
    cross join as_of
    where
        customer_days.usage_date between as_of.as_of_date - {{ var('customer_window_days') }} + 1
        and as_of.as_of_date

),

final as (

    select
        customer_id,
        count(*) as recent_usage_day_count,
        count(*) filter (where volume_mb > 0) as recent_active_day_count,
        round(avg(experience_score), 2) as network_experience_score,
        round(
            1.0 * count(*) filter (where avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }})
            / nullif(count(avg_rsrp_dbm), 0),
            6
        ) as poor_coverage_share
    from recent_days
    group by customer_id

)

select * from final

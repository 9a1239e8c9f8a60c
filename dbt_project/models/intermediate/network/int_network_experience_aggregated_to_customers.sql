with

-- read at each end of the window, each read inlined (through the index on the day)
customer_days as not materialized (

    select * from {{ ref('int_subscriber_days_aggregated_to_customers') }}

),

-- read for its latest week and for the window's weeks, each read inlined (through the index on the week)
customer_weeks as not materialized (

    select * from {{ ref('int_customer_weeks_experienced') }}

),

-- The trailing window of customer_window_days ending on the as-of day (the data's last day,
-- int_months_observed, never current_date), cut into the weeks summed in
-- int_customer_weeks_experienced that it holds whole (from first_week_start up to after_last_week:
-- weeks that ended by the as-of day and that the table holds) and the days outside them, at its
-- start and at its end.
window_bounds as materialized (

    select
        as_of.as_of_date,
        as_of.as_of_date - {{ var('customer_window_days') }} + 1 as window_start_date,
        date_trunc('week', as_of.as_of_date - {{ var('customer_window_days') }} + 7)::date as first_week_start,
        least(
            date_trunc('week', as_of.as_of_date + 1)::date,
            -- no week summed yet: every day of the window is read
            coalesce(
                (select max(customer_weeks.week_start_date) + 7 from customer_weeks),
                as_of.as_of_date - {{ var('customer_window_days') }} + 1
            )
        ) as after_last_week
    from ({{ as_of_day() }}) as as_of

),

-- The weeks inside the window, from their sums (int_customer_weeks_experienced).
whole_weeks as (

    select
        customer_id,
        usage_day_count,
        active_day_count,
        scored_day_count,
        experience_score_sum,
        rsrp_day_count,
        poor_coverage_day_count
    from customer_weeks
    where
        week_start_date >= (select window_bounds.first_week_start from window_bounds)
        and week_start_date < (select window_bounds.after_last_week from window_bounds)

),

-- The window's days before its first week and after its last, each read through the index on the
-- day (a window shorter than two weeks may hold no week: its days are all read here). Bounded on
-- both sides, so the planner expects a few days of rows, not a third of the table.
edge_days as (

    select *
    from customer_days
    where
        usage_date >= (select window_bounds.window_start_date from window_bounds)
        and usage_date < (
            select least(window_bounds.first_week_start, window_bounds.after_last_week) from window_bounds
        )

    union all

    select *
    from customer_days
    where
        usage_date >= (
            select greatest(window_bounds.after_last_week, window_bounds.window_start_date) from window_bounds
        )
        and usage_date <= (select window_bounds.as_of_date from window_bounds)

),

scored_edge_days as (

    select
        customer_id,
        volume_mb,
        avg_rsrp_dbm,
        {{ experience_score(rsrp_quality_bin('avg_rsrp_dbm')) }} as experience_score
    from edge_days

),

recent as (

    select * from whole_weeks

    union all

    select
        customer_id,
        1 as usage_day_count,
        case when volume_mb > 0 then 1 else 0 end as active_day_count,
        case when experience_score is not null then 1 else 0 end as scored_day_count,
        coalesce(experience_score, 0) as experience_score_sum,
        case when avg_rsrp_dbm is not null then 1 else 0 end as rsrp_day_count,
        case when avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} then 1 else 0 end as poor_coverage_day_count
    from scored_edge_days

),

final as (

    select
        customer_id,
        sum(usage_day_count)::bigint as recent_usage_day_count,
        sum(active_day_count)::bigint as recent_active_day_count,
        round(1.0 * sum(experience_score_sum) / nullif(sum(scored_day_count), 0), 2) as network_experience_score,
        round(1.0 * sum(poor_coverage_day_count) / nullif(sum(rsrp_day_count), 0), 6) as poor_coverage_share
    from recent
    group by customer_id

)

select * from final

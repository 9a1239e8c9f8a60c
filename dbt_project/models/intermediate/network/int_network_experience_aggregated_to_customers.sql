{{ config(post_hook=["{{ network_window_record() }}"]) }}
{#- The window slides from the sums of the table's last build (macros/network_window.sql): `slide`
    is none when it is summed whole, for every customer. -#}
{%- set slide = network_window_slide() -%}
{%- if slide -%}
    {%- set from_date = "'" ~ slide.from_date ~ "'::date" -%}
    {%- set to_date = "'" ~ slide.to_date ~ "'::date" -%}
    {%- set days = var('customer_window_days') -%}
{%- endif %}
{#- the changed customers' whole sum: every customer's without a slide, none when no customer changed -#}
{%- set summed_whole = not slide or slide.changed > 0 -%}
{#- on a slide with changed customers: their whole sum, and everyone else's slide -#}
{%- set scoped = summed_whole and slide -%}
{%- set in_changed = 'and customer_id in (select changed.customer_id from changed)' if scoped else '' -%}
{%- set not_changed = 'and customer_id not in (select changed.customer_id from changed)' if scoped else '' %}
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
{% if scoped %}

-- The customers with a day of the last build's window written since (`_merged_at` after its
-- `stamped_through`, through the customer-days' BRIN index): their window is summed whole below. A
-- day written since that is newer than the last build's as-of day slides in like any other.
changed as materialized (

    select distinct customer_days.customer_id
    from customer_days
    where
        customer_days._merged_at > '{{ slide.stamped_through }}'::timestamptz
        and customer_days.usage_date between {{ from_date }} - {{ days - 1 }} and {{ from_date }}

),
{% endif %}

-- The weeks inside the window, from their sums (int_customer_weeks_experienced); read on a whole sum.
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
    {{ in_changed }}

),

-- The days read (a sign of 1 adds the day, -1 takes it away), each read through the index on the
-- day and bounded on both sides, so the planner expects a few days of rows, not a third of the table.
days_read as (
    {% if summed_whole %}

    -- the window's days before its first week and after its last (a window shorter than two weeks may
    -- hold no week: its days are all read here)
        select
            *,
            1 as sign
        from customer_days
        where
            usage_date >= (select window_bounds.window_start_date from window_bounds)
            and usage_date < (
                select least(window_bounds.first_week_start, window_bounds.after_last_week) from window_bounds
            )
        {{ in_changed }}

        union all

        select
            *,
            1 as sign
        from customer_days
        where
            usage_date >= (
                select greatest(window_bounds.after_last_week, window_bounds.window_start_date) from window_bounds
            )
            and usage_date <= (select window_bounds.as_of_date from window_bounds)
        {{ in_changed }}
    {% endif %}
    {% if scoped %}

        union all
    {% endif %}
    {% if slide %}

        -- a slide: the days that entered the window since the last build's as-of day ...
        select
            *,
            1 as sign
        from customer_days
        where
            usage_date > {{ from_date }} and usage_date <= {{ to_date }}
            {{ not_changed }}

        union all

        -- ... and those that left it
        select
            *,
            -1 as sign
        from customer_days
        where
            usage_date > {{ from_date }} - {{ days }} and usage_date <= {{ to_date }} - {{ days }}
            {{ not_changed }}
    {% endif %}

),

scored_days as (

    select
        customer_id,
        sign,
        volume_mb,
        avg_rsrp_dbm,
        {{ experience_score(rsrp_quality_bin('avg_rsrp_dbm')) }} as experience_score
    from days_read

),

recent as (

    select
        customer_id,
        sign as usage_day_count,
        case when volume_mb > 0 then sign else 0 end as active_day_count,
        case when experience_score is not null then sign else 0 end as scored_day_count,
        sign * coalesce(experience_score, 0) as experience_score_sum,
        case when avg_rsrp_dbm is not null then sign else 0 end as rsrp_day_count,
        case when avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} then sign else 0 end as poor_coverage_day_count
    from scored_days
    {% if summed_whole %}

        union all

        select * from whole_weeks
    {% endif %}
    {% if slide %}

        union all

        -- a slide: the sums of the last build (of the customers not summed whole)
        select
            customer_id,
            recent_usage_day_count,
            recent_active_day_count,
            scored_day_count,
            experience_score_sum,
            rsrp_day_count,
            poor_coverage_day_count
        from {{ this }}
        where true {{ not_changed }}
    {% endif %}

),

-- A customer whose every day left the window has no row.
final as (

    select
        customer_id,
        sum(usage_day_count)::bigint as recent_usage_day_count,
        sum(active_day_count)::bigint as recent_active_day_count,
        sum(scored_day_count)::bigint as scored_day_count,
        sum(experience_score_sum)::bigint as experience_score_sum,
        sum(rsrp_day_count)::bigint as rsrp_day_count,
        sum(poor_coverage_day_count)::bigint as poor_coverage_day_count,
        round(1.0 * sum(experience_score_sum) / nullif(sum(scored_day_count), 0), 2) as network_experience_score,
        round(1.0 * sum(poor_coverage_day_count) / nullif(sum(rsrp_day_count), 0), 6) as poor_coverage_share
    from recent
    group by customer_id
    having sum(usage_day_count) > 0

)

select * from final

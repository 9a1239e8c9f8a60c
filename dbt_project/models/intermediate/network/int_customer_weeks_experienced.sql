{{ config(unique_key='customer_week_id') }}
{#- Incremental (dbt_project.yml): the sums of a customer's experience days by ISO week (Monday
    first), so the 90-day window of int_network_experience_aggregated_to_customers adds up a dozen
    weeks per customer instead of reading every customer-day of the window. Complete weeks only:
    those that ended by the customer-days' latest day (a week in progress would be summed again
    every day for every customer). A run sums, whole:
    - the weeks completed since its last run (after the latest week the table holds);
    - each complete customer-week with a customer-day written since its last merge (`_merged_at`
      after the `stamped_through` it records: a late day, a re-assigned number's days).
    A week none of whose days changed keeps its row. -#}

with

-- read two or three times, each read inlined (through its indexes)
customer_days as not materialized (

    select * from {{ ref('int_subscriber_days_aggregated_to_customers') }}

),

-- The first Monday after the last complete week: a week is complete once the customer-days reach its
-- Sunday.
complete_weeks as materialized (

    select date_trunc('week', max(customer_days.usage_date) + 1)::date as before_week_start
    from customer_days

),
{% if is_incremental() %}

-- The weeks completed since the table's last run: after the latest week it holds.
new_weeks as materialized (

    select coalesce(max(already_summed.week_start_date) + 7, '-infinity'::date) as from_week_start
    from {{ this }} as already_summed

),

-- The complete customer-weeks with a customer-day written since this table's last merge (found
-- through the customer-days' BRIN index on `_merged_at`).
changed_weeks as materialized (

    select distinct
        customer_days.customer_id,
        date_trunc('week', customer_days.usage_date)::date as week_start_date
    from customer_days
    where
        {{ merge_window_stamped_rows(
            'customer_days._merged_at',
            'customer_days.usage_date >= ' ~ merge_window_start('week_start_date', ref('int_subscriber_days_aggregated_to_customers'))
        ) }}
        and customer_days.usage_date < (select complete_weeks.before_week_start from complete_weeks)

),

{% endif %}

week_days as (

    select
        customer_days.customer_id,
        date_trunc('week', customer_days.usage_date)::date as week_start_date,
        customer_days.volume_mb,
        customer_days.avg_rsrp_dbm,
        {{ experience_score(rsrp_quality_bin('customer_days.avg_rsrp_dbm')) }} as experience_score
    from customer_days
    where
        customer_days.usage_date < (select complete_weeks.before_week_start from complete_weeks)
    {% if is_incremental() -%}
            -- every day of those weeks (through the index on the day), not only the changed days
            and customer_days.usage_date >= (
                select least(min(changed_weeks.week_start_date), min(new_weeks.from_week_start))
                from new_weeks
                left join changed_weeks on true
            )
            and (
                customer_days.usage_date >= (select new_weeks.from_week_start from new_weeks)
                or (customer_days.customer_id, date_trunc('week', customer_days.usage_date)::date) in (
                    select changed_weeks.customer_id, changed_weeks.week_start_date from changed_weeks
                )
            )
        {%- endif %}

),

final as (

    select
        customer_id || '@' || to_char(week_start_date, 'YYYY-MM-DD') as customer_week_id,
        customer_id,
        week_start_date,
        count(*) as usage_day_count,
        count(*) filter (where volume_mb > 0) as active_day_count,
        count(experience_score) as scored_day_count,
        coalesce(sum(experience_score), 0) as experience_score_sum,
        count(avg_rsrp_dbm) as rsrp_day_count,
        count(*) filter (where avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }}) as poor_coverage_day_count
    from week_days
    group by customer_id, week_start_date

)

select * from final

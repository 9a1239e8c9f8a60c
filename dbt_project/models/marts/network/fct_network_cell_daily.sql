{{ config(unique_key='cell_day_id') }}
{#- Incremental (dbt_project.yml): a run builds again, from every hour staging holds of them, the days
    of the cell-hours staged since the rows its own last run read (`read_through` in its record, which
    travels with the published facts: a build that failed or was refused is made good by the next
    one): the new day, a late or redelivered file's day, at any age. A table without `read_through`
    (built by an earlier telco-dw) builds again the days from incremental_lookback_days before its
    latest day, once. -#}
{%- set read_through = merge_window_read_through('stg_network__cell_kpi_hourly') if is_incremental() -%}
{%- if read_through -%}
    {%- set staged_days = merge_window_staged_days(ref('stg_network__cell_kpi_hourly'), 'measured_date', read_through) -%}
{%- endif %}

with

cell_hours as (

    select * from {{ ref('stg_network__cell_kpi_hourly') }}

),

-- the hours of the days built again (every hour of each: a day's figures are its hours')
recent_hours as (

    select cell_hours.*
    from cell_hours
    {% if read_through -%}
        where cell_hours.measured_date = any({{ staged_days }})
    {%- elif is_incremental() -%}
        where cell_hours.measured_date >= {{ merge_window_start('measured_date', ref('stg_network__cell_kpi_hourly')) }}
    {%- endif %}

),

daily as (

    select
        recent_hours.cell_id,
        recent_hours.measured_date,
        -- a cell's region and technology as its latest hour of the day reports them
        (array_agg(recent_hours.region order by recent_hours.hour_started_at desc))[1] as region,
        (array_agg(recent_hours.technology order by recent_hours.hour_started_at desc))[1] as technology,
        count(*) as hours_reported,
        sum(recent_hours.call_attempts) as call_attempts,
        sum(recent_hours.call_setups) as call_setups,
        sum(recent_hours.call_drops) as call_drops,
        round(avg(recent_hours.rsrp_dbm), 1) as avg_rsrp_dbm,
        round(avg(recent_hours.rsrq_db), 1) as avg_rsrq_db,
        round(avg(recent_hours.sinr_db), 1) as avg_sinr_db,
        round(avg(recent_hours.dl_mbps), 2) as avg_dl_mbps,
        round(avg(recent_hours.ul_mbps), 2) as avg_ul_mbps,
        round(avg(recent_hours.latency_ms), 1) as avg_latency_ms,
        count(recent_hours.rsrp_dbm) as rsrp_hour_count,
        count(*) filter (where recent_hours.rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }}) as poor_coverage_hour_count
    from recent_hours
    group by recent_hours.cell_id, recent_hours.measured_date

),

final as (

    select
        cell_id || '@' || to_char(measured_date, 'YYYY-MM-DD') as cell_day_id,
        cell_id,
        measured_date,
        region,
        technology,
        hours_reported,
        call_attempts,
        call_setups,
        call_drops,
        -- DOMAIN.md: CSSR = successful setups / attempts; drop rate = dropped calls / successful setups
        round(1.0 * call_setups / nullif(call_attempts, 0), 6) as call_setup_success_rate,
        round(1.0 * call_drops / nullif(call_setups, 0), 6) as call_drop_rate,
        avg_rsrp_dbm,
        avg_rsrq_db,
        avg_sinr_db,
        {{ rsrp_quality_bin('avg_rsrp_dbm') }} as rsrp_quality_bin,
        avg_dl_mbps,
        avg_ul_mbps,
        avg_latency_ms,
        rsrp_hour_count,
        poor_coverage_hour_count,
        round(1.0 * poor_coverage_hour_count / nullif(rsrp_hour_count, 0), 6) as poor_coverage_share
    from daily

)

select * from final

{{ config(unique_key='cell_hour_id') }}
{#- Incremental (dbt_project.yml), like the subscriber-days: as a view, each of a build's reads (the
    cell facts, the observed months, a dozen data tests) sorted the whole history again to keep each
    hour's latest version. A run stages the rows landed since its last run (an hour, a late or a
    redelivered file: macros/merge_window.sql); a newer landing of an hour replaces it, as the latest
    version of a whole-history read would. -#}

with

source as (

    select * from {{ source('raw_network', 'cell_kpi_hourly') }}
    {% if is_incremental() -%}
        where {{ merge_window_new_rows("hour_start >= " ~ merge_window_lookback('measured_date') ~ "::timestamp at time zone 'UTC'") }}
    {%- endif %}

),

latest as (

    {{ latest_version('source', 'cell_id, hour_start', updated_at=none) }}

),

renamed as (

    select
        cell_id || '@' || to_char(hour_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24') as cell_hour_id,
        cell_id,
        region,
        technology,
        hour_start as hour_started_at,
        (hour_start at time zone 'UTC')::date as measured_date,
        rsrp_dbm,
        rsrq_db,
        sinr_db,
        dl_mbps,
        ul_mbps,
        latency_ms,
        call_attempts,
        call_setups,
        call_drops,
        _loaded_at
    from latest

)

select * from renamed

with

source as (

    select * from {{ source('raw_network', 'cell_kpi_hourly') }}

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
        rsrp_dbm,
        rsrq_db,
        sinr_db,
        dl_mbps,
        ul_mbps,
        latency_ms,
        call_attempts,
        call_setups,
        call_drops
    from latest

)

select * from renamed

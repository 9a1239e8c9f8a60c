with

source as (

    select
        *,
        {{ latest_per_key("cell_id, hour_start", "_loaded_at") }} as version_rank
    from {{ source('raw_network', 'cell_kpi_hourly') }}

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
    from source
    where version_rank = 1

)

select * from renamed

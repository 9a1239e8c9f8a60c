with

source as (

    select * from {{ source('raw_network', 'subscriber_experience_daily') }}
    -- a day whose number was erased or is past its retention (privacy) belongs to no one
    where msisdn is not null

),

latest as (

    {{ latest_version('source', 'usage_date, msisdn', updated_at=none) }}

),

-- The MSISDN becomes its keyed token (the CRM's subscriptions carry the same token); IMSI, IMEI and
-- the serving cell (a trajectory over days) are not carried.
renamed as (

    select
        {{ pii('raw_network', 'subscriber_experience_daily', 'msisdn', normalise_mobile('msisdn')) }} as msisdn_token,
        usage_date,
        volume_mb,
        avg_dl_mbps,
        avg_rsrp_dbm,
        avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} as is_poor_coverage
    from latest

),

final as (

    select
        msisdn_token || '@' || to_char(usage_date, 'YYYY-MM-DD') as subscriber_day_id,
        msisdn_token,
        usage_date,
        volume_mb,
        avg_dl_mbps,
        avg_rsrp_dbm,
        is_poor_coverage
    from renamed

)

select * from final

{{
    config(
        unique_key='subscriber_day_id',
        post_hook=[
            "delete from {{ this }} as staged using {{ source('raw_network', 'subscriber_experience_daily') }} as landed where landed.msisdn is null and landed._batch_id = staged._batch_id and landed._row_number = staged._row_number"
        ]
    )
}}
{#- Incremental (dbt_project.yml): every read of a view tokenised every number of the history again,
    and a build reads this model a dozen times (its model, its data tests, the PII suite). A run
    tokenises the days from incremental_lookback_days before the latest day staged (late and
    redelivered files). The post-hook drops the staged day of every landed row whose number was since
    erased or passed its retention (the privacy jobs null it in raw): each row keeps the landed row's
    `_batch_id` and `_row_number` for that, since its token cannot be recomputed from a null. -#}

with

source as (

    select * from {{ source('raw_network', 'subscriber_experience_daily') }}
    -- a day whose number was erased or is past its retention (privacy) belongs to no one
    where msisdn is not null
    {% if is_incremental() -%}
        and usage_date >= (
            select coalesce(max(already_built.usage_date), '1900-01-01'::date) - {{ var('incremental_lookback_days') }}
            from {{ this }} as already_built
        )
    {%- endif %}

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
        avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} as is_poor_coverage,
        _batch_id,
        _row_number
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
        is_poor_coverage,
        _batch_id,
        _row_number
    from renamed

)

select * from final

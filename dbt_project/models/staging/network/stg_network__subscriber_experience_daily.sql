{{
    config(
        unique_key='subscriber_day_id',
        post_hook=[
            "delete from {{ this }} as staged using {{ source('raw_network', 'subscriber_experience_daily') }} as landed where {{ nulled_in_raw('msisdn') }}"
        ]
    )
}}
{#- Incremental (dbt_project.yml): every read of a view tokenised every number of the history again,
    and a build reads this model a dozen times (its model, its data tests, the PII suite). A run
    tokenises the rows landed since its last run (a day, a late or a redelivered file:
    macros/merge_window.sql); a newer landing of a number's day replaces it, as the latest version of
    a whole-history read would. The post-hook drops the staged day of every landed row whose number was since
    erased or passed its retention (the privacy jobs null it in raw): each row keeps the landed row's
    `_batch_id` and `_row_number` for that, since its token cannot be recomputed from a null. -#}

with

-- read twice (the rows, the numbers); the columns staging carries only (the sort that keeps each
-- day's latest row carries every column it is given). A full build inlines it in each read rather
-- than copy the whole history; an incremental run copies its new rows once (found through the
-- landed table's index on `_loaded_at`), not twice
source as {% if is_incremental() %}materialized{% else %}not materialized{% endif %} (

    select
        usage_date,
        msisdn,
        volume_mb,
        avg_dl_mbps,
        avg_rsrp_dbm,
        _loaded_at,
        _batch_id,
        _row_number
    from {{ source('raw_network', 'subscriber_experience_daily') }}
    -- a day whose number was erased or is past its retention (privacy) belongs to no one
    where msisdn is not null
    {% if is_incremental() -%}
        and {{ merge_window_new_rows('usage_date >= ' ~ merge_window_lookback('usage_date')) }}
    {%- endif %}

),

latest as (

    {{ latest_version('source', 'usage_date, msisdn', updated_at=none) }}

),

-- The MSISDN becomes its keyed token (the CRM's subscriptions carry the same token), computed once
-- per number (a number has a row per day) and in one call of privacy.tokens for all of them (the key
-- is read by that function only, once): the dearest step of the model when made per row, and still
-- 4 s for a million numbers a day with a call per number. A number that does not normalise keeps a
-- null token, as privacy.token gives.
distinct_numbers as materialized (

    select
        distinct_msisdns.msisdn,
        {{ normalise_mobile('distinct_msisdns.msisdn') }} as normalised
    from (select distinct source.msisdn from source) as distinct_msisdns

),

numbers as (

    select
        distinct_numbers.msisdn,
        tokens.token as msisdn_token
    from distinct_numbers
    left join {{ pii_tokens(
        'raw_network', 'subscriber_experience_daily', 'msisdn',
        'array(select distinct listed.normalised from distinct_numbers as listed)'
    ) }} as tokens
        on distinct_numbers.normalised = tokens.value

),

-- IMSI, IMEI and the serving cell (a trajectory over days) are not carried.
renamed as (

    select
        numbers.msisdn_token,
        latest.usage_date,
        latest.volume_mb,
        latest.avg_dl_mbps,
        latest.avg_rsrp_dbm,
        latest.avg_rsrp_dbm <= {{ var('poor_coverage_rsrp_dbm') }} as is_poor_coverage,
        latest._batch_id,
        latest._row_number,
        latest._loaded_at
    from latest
    inner join numbers
        on latest.msisdn = numbers.msisdn

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
        _row_number,
        _loaded_at
    from renamed

)

select * from final

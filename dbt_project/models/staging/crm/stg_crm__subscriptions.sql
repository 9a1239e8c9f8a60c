{{
    config(
        post_hook=[
            "update {{ this }} as staged set msisdn_token = null from {{ source('raw_crm', 'subscriptions') }} as landed where {{ nulled_in_raw('msisdn') }} and staged.msisdn_token is not null",
            "{{ 'analyze ' ~ this if is_incremental() }}"
        ]
    )
}}
{#- Merged by key (dbt_project.yml; macros/latest_version.sql): a table rebuilt each run tokenised
    every number of the CRM again (a call of privacy.token each, the dearest step of a rebuild). A run
    tokenises the versions landed since and keeps, per subscription, the latest of those and the row
    it holds. The post-hook nulls the token of every kept version whose landed number privacy has
    since nulled in raw (erasure, retention; found through the raw table's partial index on such rows),
    as a rebuild would: each row keeps the landed row's `_batch_id` and `_row_number` for that (a table
    staged without them, by an earlier telco-dw, is staged again whole, once). An incremental run
    then analyses the table (0.3 s at 1M customers), unlike the other tables merged by key: the
    customer-days read its versions landed since their last run, which the statistics of an earlier
    run put at one row, and joined them to their snapshot versions by nested loops (3 s a day at 1M
    customers, against 0.5 by hash). -#}

with

source as (

    select * from {{ source('raw_crm', 'subscriptions') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept(needs=['_batch_id', '_row_number']) }}

),

latest as (

    {{ latest_version('source', 'subscription_id') }}

),

renamed as (

    select
        subscription_id,
        customer_id,
        -- keyed token of the mobile number: joins network experience to the subscription, reveals nothing
        {{ pii('raw_crm', 'subscriptions', 'msisdn', normalise_mobile('msisdn')) }} as msisdn_token,
        plan_code,
        plan_name,
        monthly_fee,
        contract_months,
        status as subscription_status,
        status = 'churned' as is_churned,
        activated_at,
        deactivated_at,
        churn_type,
        updated_at,
        _batch_id,
        _row_number,
        -- when the kept version landed: the customer-days re-assign the numbers of the subscriptions
        -- landed since their last run (int_subscriber_days_aggregated_to_customers)
        _loaded_at
    from latest

),

-- an incremental run merges, for each key landed since, its latest version between those rows and
-- the row kept (macros/latest_version.sql)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'subscription_id', needs=['_batch_id', '_row_number']) }}

)

select * from merged

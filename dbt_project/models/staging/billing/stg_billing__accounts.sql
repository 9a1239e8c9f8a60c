{#- Merged by key like the rest of billing (dbt_project.yml; macros/latest_version.sql): a run reads
    the raw versions landed since and merges, per account, the latest of those and the row it holds.
    No column it carries is personal (the bank card number, which privacy nulls in raw in place, is
    not carried), so the rows landed since are all that can change it. An account's former owners
    are every customer a version of it named other than its owner now: on a full build, found among
    every raw version; on an incremental run, among the versions landed since and the owner and
    former owners the kept row names, so an account that moves again keeps its earlier owners. -#}

with

-- read three times (the latest versions, the moved accounts, their owners): inlined in each read
-- rather than a copy of the rows
source as not materialized (

    select * from {{ source('raw_billing', 'accounts') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept() }}

),

latest as (

    {{ latest_version('source', 'account_id') }}

),

-- the customers each account's versions name: the versions read, and on an incremental run the
-- owner and former owners kept for the accounts landed since
versions as not materialized (

    select
        account_id,
        customer_id
    from source
    {% if is_incremental() %}
        union all
        select
            kept.account_id,
            owner.customer_id
        from {{ this }} as kept
        cross join lateral (
            select kept.customer_id
            union all
            select jsonb_array_elements_text(kept.former_customer_ids)
        ) as owner (customer_id)
        where kept.account_id in (select landed.account_id from source as landed)
    {% endif %}

),

owners as (

    -- every customer the versions of an account moved to another customer named (few accounts):
    -- its former owners, whose customer-keyed rows a run builds again (macros/changed_customers.sql).
    -- The moved accounts are found by a hashed min <> max; at 1M accounts that adds 0.6 s to the
    -- 0.7 s of the latest versions of a full build, where collecting every account's owners added
    -- 1.2 s (a sort of every version again)
    select
        account_id,
        jsonb_agg(distinct customer_id) filter (where customer_id is not null) as customer_ids
    from versions
    where
        account_id in (
            select moved.account_id
            from versions as moved
            group by moved.account_id
            having min(moved.customer_id) <> max(moved.customer_id)
        )
    group by account_id

),

renamed as (

    select
        account_id,
        customer_id,
        -- set below, once the version kept is known
        '[]'::jsonb as former_customer_ids,
        pay_method,
        opened_at,
        updated_at,
        _loaded_at
    from latest

),

-- an incremental run keeps, for each account landed since, its latest version between those rows
-- and the row kept (a late redelivery of an older version does not replace a newer one)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'account_id') }}

),

final as (

    select
        merged.account_id,
        merged.customer_id,
        coalesce(owners.customer_ids - merged.customer_id, '[]') as former_customer_ids,
        merged.pay_method,
        merged.opened_at,
        merged.updated_at,
        merged._loaded_at
    from merged
    left join owners on merged.account_id = owners.account_id

)

select * from final

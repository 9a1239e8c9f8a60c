with

source as (

    select * from {{ source('raw_billing', 'payments') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept() }}

),

latest as (

    {{ latest_version('source', 'payment_id') }}

),

renamed as (

    select
        payment_id,
        invoice_id,
        status as payment_status,
        amount,
        paid_at,
        updated_at,
        _loaded_at
    from latest

),

-- an incremental run merges, for each key landed since, its latest version between those rows and
-- the row kept (macros/latest_version.sql)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'payment_id') }}

)

select * from merged

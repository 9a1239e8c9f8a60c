with

source as (

    select * from {{ source('raw_billing', 'invoices') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept() }}

),

latest as (

    {{ latest_version('source', 'invoice_id') }}

),

renamed as (

    select
        invoice_id,
        account_id,
        billing_month,
        amount_excl_tax,
        tax_amount,
        amount_excl_tax + tax_amount as amount_incl_tax,
        issued_at,
        due_date,
        updated_at,
        _loaded_at
    from latest

),

-- an incremental run merges, for each key landed since, its latest version between those rows and
-- the row kept (macros/latest_version.sql)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'invoice_id') }}

)

select * from merged

with

source as (

    select * from {{ source('raw_billing', 'invoice_lines') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept() }}

),

latest as (

    {{ latest_version('source', 'line_id') }}

),

renamed as (

    select
        line_id as invoice_line_id,
        invoice_id,
        line_type,
        amount_excl_tax,
        updated_at,
        _loaded_at
    from latest

),

-- an incremental run merges, for each key landed since, its latest version between those rows and
-- the row kept (macros/latest_version.sql)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'invoice_line_id') }}

)

select * from merged

with

source as (

    select * from {{ source('raw_billing', 'invoice_lines') }}

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
        updated_at
    from latest

)

select * from renamed

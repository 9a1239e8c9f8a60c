with

source as (

    select
        *,
        {{ latest_per_key('line_id') }} as version_rank
    from {{ source('raw_billing', 'invoice_lines') }}

),

renamed as (

    select
        line_id as invoice_line_id,
        invoice_id,
        line_type,
        amount_excl_tax,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

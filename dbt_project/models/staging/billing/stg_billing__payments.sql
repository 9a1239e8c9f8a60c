with

source as (

    select * from {{ source('raw_billing', 'payments') }}

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
        updated_at
    from latest

)

select * from renamed

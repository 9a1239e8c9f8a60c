with

source as (

    select
        *,
        {{ latest_per_key('payment_id') }} as version_rank
    from {{ source('raw_billing', 'payments') }}

),

renamed as (

    select
        payment_id,
        invoice_id,
        amount,
        paid_at,
        status as payment_status,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

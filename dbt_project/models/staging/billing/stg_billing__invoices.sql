with

source as (

    select
        *,
        {{ latest_per_key('invoice_id') }} as version_rank
    from {{ source('raw_billing', 'invoices') }}

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
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

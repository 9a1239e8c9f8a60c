with

source as (

    select * from {{ source('raw_billing', 'invoices') }}

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
        updated_at
    from latest

)

select * from renamed

with

source as (

    select * from {{ source('raw_billing', 'accounts') }}

),

latest as (

    {{ latest_version('source', 'account_id') }}

),

renamed as (

    select
        account_id,
        customer_id,
        pay_method,
        opened_at,
        updated_at,
        _loaded_at
    from latest

)

select * from renamed

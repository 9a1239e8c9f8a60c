with

source as (

    select
        *,
        {{ latest_per_key('account_id') }} as version_rank
    from {{ source('raw_billing', 'accounts') }}

),

renamed as (

    select
        account_id,
        customer_id,
        pay_method,
        opened_at,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

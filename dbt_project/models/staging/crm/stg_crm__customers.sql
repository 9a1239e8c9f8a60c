with

source as (

    select * from {{ source('raw_crm', 'customers') }}

),

latest as (

    {{ latest_version('source', 'customer_id') }}

),

renamed as (

    select
        customer_id,
        gender,
        {{ age_band('birth_date') }} as age_band,
        province,
        city,
        created_at as signed_up_at,
        updated_at,
        _loaded_at
    from latest

)

select * from renamed

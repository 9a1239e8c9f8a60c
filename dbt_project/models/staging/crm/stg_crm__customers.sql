with

source as (

    select
        *,
        {{ latest_per_key('customer_id') }} as version_rank
    from {{ source('raw_crm', 'customers') }}

),

renamed as (

    select
        customer_id,
        gender,
        {{ age_band('birth_date') }} as age_band,
        province,
        city,
        created_at as signed_up_at,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

with

source as (

    select
        *,
        {{ latest_per_key('ticket_id') }} as version_rank
    from {{ source('raw_crm', 'tickets') }}

),

renamed as (

    select
        ticket_id,
        customer_id,
        channel,
        category,
        created_at,
        first_response_at,
        resolved_at,
        contact_count,
        status as ticket_status,
        updated_at
    from source
    where version_rank = 1

)

select * from renamed

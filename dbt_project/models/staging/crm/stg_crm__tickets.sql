with

source as (

    select * from {{ source('raw_crm', 'tickets') }}

),

latest as (

    {{ latest_version('source', 'ticket_id') }}

),

renamed as (

    select
        ticket_id,
        customer_id,
        channel,
        category,
        status as ticket_status,
        created_at,
        first_response_at,
        resolved_at,
        contact_count,
        updated_at
    from latest

)

select * from renamed

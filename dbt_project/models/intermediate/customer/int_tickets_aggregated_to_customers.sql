with

tickets as (

    select * from {{ ref('stg_crm__tickets') }}

),

final as (

    select
        tickets.customer_id,
        count(*) as complaint_count,
        count(*) filter (where tickets.ticket_status = 'open') as open_complaint_count,
        max(tickets.created_at) as last_complaint_at
    from tickets
    group by tickets.customer_id

)

select * from final

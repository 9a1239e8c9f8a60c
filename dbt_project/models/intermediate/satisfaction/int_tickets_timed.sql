with

tickets as (

    select * from {{ ref('stg_crm__tickets') }}

),

timed as (

    select
        tickets.*,
        tickets.resolved_at is not null as is_resolved,
        -- DOMAIN.md SLA on a 24/7 clock; exactly 24 h (48 h) after creation still meets it. A complaint
        -- without a response (resolution) in the data has not met it.
        coalesce(
            tickets.first_response_at
            <= tickets.created_at + interval '{{ var("sla_response_hours") }} hours',
            false
        ) as met_24h_response,
        coalesce(
            tickets.resolved_at
            <= tickets.created_at + interval '{{ var("sla_resolution_hours") }} hours',
            false
        ) as met_48h_resolution,
        coalesce(tickets.resolved_at is not null and tickets.contact_count = 1, false)
            as is_resolved_at_first_contact
    from tickets

),

-- Another complaint of the same customer opened after this one's resolution, within the repeat window
-- (an empty window when fcr_repeat_window_days is 0).
repeats as (

    select distinct timed.ticket_id
    from timed
    inner join tickets as later
        on
            timed.customer_id = later.customer_id
            and timed.resolved_at < later.created_at
            and later.created_at <= timed.resolved_at + interval '{{ var("fcr_repeat_window_days") }} days'
    where timed.is_resolved_at_first_contact

),

final as (

    select
        timed.ticket_id,
        timed.customer_id,
        timed.channel,
        timed.category,
        timed.ticket_status,
        timed.created_at,
        (timed.created_at at time zone 'UTC')::date as created_date,
        date_trunc('month', timed.created_at at time zone 'UTC')::date as created_month_start_date,
        timed.first_response_at,
        timed.resolved_at,
        timed.contact_count,
        round((extract(epoch from timed.first_response_at - timed.created_at) / 3600)::numeric, 4) as response_hours,
        round((extract(epoch from timed.resolved_at - timed.created_at) / 3600)::numeric, 4) as resolution_hours,
        timed.is_resolved,
        timed.met_24h_response,
        timed.met_48h_resolution,
        timed.is_resolved_at_first_contact,
        repeats.ticket_id is not null as has_repeat_complaint,
        timed.is_resolved_at_first_contact and repeats.ticket_id is null as is_first_contact_resolution
    from timed
    left join repeats
        on timed.ticket_id = repeats.ticket_id

)

select * from final

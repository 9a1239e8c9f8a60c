with

tickets as (

    select * from {{ ref('int_tickets_timed') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

-- The as-of day: the data's last day (int_months_observed), never current_date.
as_of as (

    select max(months.observed_through_date) as as_of_date
    from months

),

final as (

    select
        tickets.customer_id,
        count(*) as complaint_count,
        count(*) filter (where tickets.ticket_status = 'open') as open_complaint_count,
        max(tickets.created_at) as last_complaint_at,
        count(*) filter (where tickets.is_first_contact_resolution) as first_contact_resolution_count,
        round(1.0 * count(*) filter (where tickets.is_first_contact_resolution) / count(*), 6) as fcr_rate,
        count(*) filter (
            where tickets.created_date between as_of.as_of_date - {{ var('customer_window_days') }} + 1
            and as_of.as_of_date
        ) as recent_complaint_count,
        count(*) filter (
            where
                tickets.created_date between as_of.as_of_date - {{ var('customer_window_days') }} + 1
                and as_of.as_of_date
                and not (tickets.met_24h_response and tickets.met_48h_resolution)
        ) as recent_sla_breach_count
    from tickets
    cross join as_of
    group by tickets.customer_id

)

select * from final

with

tickets as (

    select * from {{ ref('int_tickets_timed') }}

),

-- The as-of day: the data's last day (int_months_observed), never current_date.
as_of as (

    {{ as_of_day() }}

),

-- Recent: opened in the trailing customer_window_days ending on the as-of day, both included.
windowed as (

    select
        tickets.*,
        tickets.created_date between as_of.as_of_date - {{ var('customer_window_days') }} + 1
        and as_of.as_of_date as is_recent
    from tickets
    cross join as_of

),

final as (

    select
        customer_id,
        count(*) as complaint_count,
        count(*) filter (where ticket_status = 'open') as open_complaint_count,
        max(created_at) as last_complaint_at,
        count(*) filter (where is_first_contact_resolution) as first_contact_resolution_count,
        round(1.0 * count(*) filter (where is_first_contact_resolution) / count(*), 6) as fcr_rate,
        count(*) filter (where is_recent) as recent_complaint_count,
        count(*) filter (where is_recent and not (met_24h_response and met_48h_resolution))
            as recent_sla_breach_count
    from windowed
    group by customer_id

)

select * from final

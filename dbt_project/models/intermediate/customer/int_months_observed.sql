-- Each source is read for its event times only (a CTE read twice is computed once, with every column
-- it selects: the subscriptions' tokens and the survey comments' scrubbing included).
with

subscriptions as (

    select
        updated_at,
        deactivated_at
    from {{ ref('stg_crm__subscriptions') }}

),

tickets as (

    select
        created_at,
        updated_at
    from {{ ref('stg_crm__tickets') }}

),

responses as (

    select submitted_at
    from {{ ref('stg_survey__responses') }}

),

invoices as (

    select
        billing_month,
        issued_at
    from {{ ref('stg_billing__invoices') }}

),

payments as (

    select updated_at
    from {{ ref('stg_billing__payments') }}

),

cell_hours as (

    select measured_date
    from {{ ref('stg_network__cell_kpi_hourly') }}

),

-- The first and last moments any source reports an event for (null when every source is empty).
event_bounds as (

    select
        least(
            (select min(invoices.billing_month) from invoices),
            (select min(tickets.created_at at time zone 'UTC')::date from tickets),
            (select min(responses.submitted_at at time zone 'UTC')::date from responses),
            (select min(subscriptions.deactivated_at at time zone 'UTC')::date from subscriptions)
        ) as first_event_date,
        greatest(
            (select max(subscriptions.updated_at at time zone 'UTC')::date from subscriptions),
            (select max(tickets.updated_at at time zone 'UTC')::date from tickets),
            (select max(responses.submitted_at at time zone 'UTC')::date from responses),
            (select max(invoices.issued_at at time zone 'UTC')::date from invoices),
            (select max(payments.updated_at at time zone 'UTC')::date from payments),
            (select max(cell_hours.measured_date) from cell_hours)
        ) as last_event_date

),

bounds as (

    select
        date_trunc('month', event_bounds.first_event_date)::date as first_month_start_date,
        {% if var('as_of_date') -%}
            '{{ var("as_of_date") }}'::date as data_through_date
        {%- else -%}
            event_bounds.last_event_date as data_through_date
        {%- endif %}
    from event_bounds

),

months as (

    select
        series.month_start::date as month_start_date,
        bounds.data_through_date
    from bounds
    cross join lateral generate_series(
        bounds.first_month_start_date,
        date_trunc('month', bounds.data_through_date)::date,
        interval '1 month'
    ) as series (month_start)

),

final as (

    select
        month_start_date,
        (month_start_date + interval '1 month')::date - 1 as month_end_date,
        least((month_start_date + interval '1 month')::date - 1, data_through_date) as observed_through_date,
        least((month_start_date + interval '1 month')::date - 1, data_through_date) - month_start_date + 1
            as days_observed,
        data_through_date >= (month_start_date + interval '1 month')::date - 1 as is_complete
    from months

)

select * from final

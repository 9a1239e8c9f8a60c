-- Each source is read once, for its event times only: its first and last in one aggregate. A time's
-- day is taken of the aggregate (the day of the latest moment is the latest day: the cast keeps the
-- order), not of every row.
with

subscription_times as (

    select
        min(deactivated_at) as first_at,
        max(updated_at) as last_at
    from {{ ref('stg_crm__subscriptions') }}

),

ticket_times as (

    select
        min(created_at) as first_at,
        max(updated_at) as last_at
    from {{ ref('stg_crm__tickets') }}

),

response_times as (

    select
        min(submitted_at) as first_at,
        max(submitted_at) as last_at
    from {{ ref('stg_survey__responses') }}

),

invoice_times as (

    select
        min(billing_month) as first_date,
        max(issued_at) as last_at
    from {{ ref('stg_billing__invoices') }}

),

payment_times as (

    select max(updated_at) as last_at
    from {{ ref('stg_billing__payments') }}

),

cell_hour_dates as (

    select max(measured_date) as last_date
    from {{ ref('stg_network__cell_kpi_hourly') }}

),

-- The first and last moments any source reports an event for (null when every source is empty).
event_bounds as (

    select
        least(
            invoice_times.first_date,
            (ticket_times.first_at at time zone 'UTC')::date,
            (response_times.first_at at time zone 'UTC')::date,
            (subscription_times.first_at at time zone 'UTC')::date
        ) as first_event_date,
        greatest(
            (subscription_times.last_at at time zone 'UTC')::date,
            (ticket_times.last_at at time zone 'UTC')::date,
            (response_times.last_at at time zone 'UTC')::date,
            (invoice_times.last_at at time zone 'UTC')::date,
            (payment_times.last_at at time zone 'UTC')::date,
            cell_hour_dates.last_date
        ) as last_event_date
    from subscription_times
    cross join ticket_times
    cross join response_times
    cross join invoice_times
    cross join payment_times
    cross join cell_hour_dates

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

-- The MetricFlow time spine: one row per day over a fixed range that covers any data the warehouse
-- holds (fixed so the spine does not depend on the data and never has a gap).
with

days as (

    select series.day_start::date as calendar_date
    from generate_series('2015-01-01'::date, '2035-12-31'::date, interval '1 day') as series (day_start)

),

final as (

    select
        calendar_date,
        date_trunc('month', calendar_date)::date as month_start_date,
        date_trunc('quarter', calendar_date)::date as quarter_start_date,
        date_trunc('year', calendar_date)::date as year_start_date
    from days

)

select * from final

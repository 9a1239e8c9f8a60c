-- months_between counts whole months as PostgreSQL's age() does, without calling it, and
-- tenure_segment bands them (< 3, 3-11, 12-35, 36+): every pair of days of 2020-2025 for which either
-- differs, forwards and backwards (month ends, leap days, a later date's day below the earlier one's),
-- and a null date.
with days as (

    select day::date as day
    from generate_series('2020-01-01'::date, '2025-12-31'::date, interval '1 day') as day

),

pairs as (

    select
        earlier.day as start_date,
        later.day as end_date
    from days as earlier
    inner join days as later
        -- every 11th day of the year as the start; as the end, every day within 13 months of it and
        -- every 17th day beyond, either way (tenure bands up to 36+ months): 161,000 pairs
        on
            extract(doy from earlier.day)::integer % 11 = 0
            and (later.day between earlier.day - 400 and earlier.day + 400 or (later.day - earlier.day) % 17 = 0)
    union all
    select
        null::date as start_date,
        '2025-01-01'::date as end_date

),

counted as (

    select
        start_date,
        end_date,
        {{ months_between('start_date', 'end_date') }} as months,
        (date_part('year', age(end_date, start_date)) * 12 + date_part('month', age(end_date, start_date)))::integer
            as months_by_age,
        {{ tenure_segment('start_date', 'end_date') }} as tenure_segment
    from pairs

),

banded as (

    select
        *,
        case
            when months_by_age is null then null
            when months_by_age < 3 then '< 3 months'
            when months_by_age < 12 then '3-11 months'
            when months_by_age < 36 then '12-35 months'
            else '36+ months'
        end as tenure_segment_by_age
    from counted

)

select
    start_date,
    end_date,
    months,
    months_by_age,
    tenure_segment,
    tenure_segment_by_age
from banded
where
    months is distinct from months_by_age
    or tenure_segment is distinct from tenure_segment_by_age

with

valued as (

    select * from {{ ref('int_customers_valued') }}

),

billing as (

    select * from {{ ref('int_billing_aggregated_to_customers') }}

),

experience as (

    select * from {{ ref('int_network_experience_aggregated_to_customers') }}

),

-- The as-of day: the data's last day (int_months_observed), never current_date.
as_of as (

    {{ as_of_day() }}

),

-- DOMAIN.md RFM: recency = days from the last payment to the as-of day (never paid: no recency, the
-- worst); frequency = active days (data used) in the trailing window; monetary = invoiced revenue of
-- the ARPU window. Every customer with a subscription is scored, churned ones included (they are
-- the 111 lost).
measured as (

    select
        valued.customer_id,
        as_of.as_of_date - (billing.last_paid_at at time zone 'UTC')::date as days_since_last_payment,
        coalesce(experience.recent_active_day_count, 0) as active_day_count,
        valued.window_revenue_excl_tax as monetary_value
    from valued
    cross join as_of
    left join billing
        on valued.customer_id = billing.customer_id
    left join experience
        on valued.customer_id = experience.customer_id

),

-- Quintiles by rank: score = 1 + floor(5 x percent_rank), 5 at the top; equal values share a score.
-- Recency is inverted: the fewest days since the last payment score 5.
scored as (

    select
        measured.*,
        least(
            5, 1 + floor(5 * percent_rank() over (order by measured.days_since_last_payment desc nulls first))
        )::integer as recency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by measured.active_day_count asc)))::integer
            as frequency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by measured.monetary_value asc)))::integer
            as monetary_score
    from measured

),

final as (

    select
        customer_id,
        days_since_last_payment,
        active_day_count,
        monetary_value,
        recency_score,
        frequency_score,
        monetary_score,
        recency_score::text || frequency_score::text || monetary_score::text as rfm_cell,
        case
            when recency_score = 5 and frequency_score = 5 and monetary_score = 5 then 'champions'
            when recency_score = 1 and frequency_score = 1 and monetary_score = 1 then 'lost'
            when recency_score = 1 then 'at risk'
            when recency_score >= 4 and frequency_score >= 4 then 'loyal'
            when recency_score >= 4 then 'promising'
            else 'needs attention'
        end as rfm_segment
    from scored

)

select * from final

-- Incremental (dbt_project.yml): a run builds again the customers with an answer landed since
-- (macros/changed_customers.sql); its pre-hook has deleted their rows, and they are appended.
-- Nothing here depends on the as-of day. An answer is taken to keep its respondent (a later export
-- names the same customer). On an incremental run the scoped read is materialised.
-- depends_on: {{ ref('stg_survey__responses') }} (where the changed customers are found)

with
{{ changed_customers_ctes() }}
responses as {{ 'materialized' if changed_customers_scoped() }} (

    select kept.* from {{ ref('int_survey_responses_scored') }} as kept
    {{ changed_customers_join('kept.customer_id') }}
    where {{ changed_customers_scope() }}

),

response_counts as (

    select
        responses.customer_id,
        count(distinct responses.response_id) as survey_response_count
    from responses
    group by responses.customer_id

),

last_nps_answers as (

    select distinct on (responses.customer_id)
        responses.customer_id,
        responses.score as last_nps_score,
        responses.nps_category as last_nps_category,
        responses.submitted_at as last_nps_submitted_at
    from responses
    where responses.survey_type = 'nps'
    order by responses.customer_id asc, responses.submitted_at desc, responses.answer_id desc

),

-- The latest CSAT answer, categorised like NPS: satisfied is the top-2-box (9-10 of 10, 4-5 of 5),
-- neutral the next band (7-8 of 10, 3 of 5), dissatisfied the rest.
last_csat_answers as (

    select distinct on (responses.customer_id)
        responses.customer_id,
        responses.score as last_csat_score,
        responses.scale_max as last_csat_scale_max,
        case
            when responses.is_csat_top_2_box then 'satisfied'
            when responses.scale_max = 10 and responses.score >= 7 then 'neutral'
            when responses.scale_max = 5 and responses.score = 3 then 'neutral'
            else 'dissatisfied'
        end as last_csat_category,
        responses.submitted_at as last_csat_submitted_at
    from responses
    where responses.survey_type = 'csat'
    order by responses.customer_id asc, responses.submitted_at desc, responses.answer_id desc

),

final as (

    select
        response_counts.customer_id,
        response_counts.survey_response_count,
        last_nps_answers.last_nps_score,
        last_nps_answers.last_nps_category,
        last_nps_answers.last_nps_submitted_at,
        last_csat_answers.last_csat_score,
        last_csat_answers.last_csat_scale_max,
        last_csat_answers.last_csat_category,
        last_csat_answers.last_csat_submitted_at
    from response_counts
    left join last_nps_answers
        on response_counts.customer_id = last_nps_answers.customer_id
    left join last_csat_answers
        on response_counts.customer_id = last_csat_answers.customer_id

)

select * from final

with

responses as (

    select * from {{ ref('int_survey_responses_scored') }}

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

final as (

    select
        response_counts.customer_id,
        response_counts.survey_response_count,
        last_nps_answers.last_nps_score,
        last_nps_answers.last_nps_category,
        last_nps_answers.last_nps_submitted_at
    from response_counts
    left join last_nps_answers
        on response_counts.customer_id = last_nps_answers.customer_id

)

select * from final

with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

scored as (

    select
        answer_id,
        response_id,
        question,
        customer_id,
        survey_type,
        touchpoint,
        ticket_id,
        submitted_at,
        score,
        scale_max,
        case when survey_type = 'nps' then {{ nps_category('score') }} end as nps_category,
        -- CSAT top-2-box: 9-10 on the 1-10 scale, 4-5 on the 1-5 scale.
        case when survey_type = 'csat' then score >= scale_max - 1 end as is_csat_top_2_box,
        case when survey_type = 'ces' then score >= {{ var('ces_agree_min') }} end as is_ces_agree,
        has_comment,
        comment_scrubbed
    from responses

)

select * from scored

with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

scored as (

    select
        answer_id,
        response_id,
        customer_id,
        survey_type,
        touchpoint,
        submitted_at,
        score,
        scale_max,
        case when survey_type = 'nps' then {{ nps_category('score') }} end as nps_category
    from responses

)

select * from scored

-- Survey answers whose score is off its survey type's scale (DOMAIN.md): nps 0-10 on scale 10,
-- csat 1-10 on scale 10 or 1-5 on scale 5, ces 1-7 on scale 7. Landing only checks 0..scale_max.
with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

off_scale as (

    select
        answer_id,
        survey_type,
        score,
        scale_max
    from responses
    where not coalesce(
        (survey_type = 'nps' and scale_max = 10 and score between 0 and 10)
        or (survey_type = 'csat' and scale_max in (5, 10) and score between 1 and scale_max)
        or (survey_type = 'ces' and scale_max = 7 and score between 1 and 7),
        false
    )

)

select * from off_scale

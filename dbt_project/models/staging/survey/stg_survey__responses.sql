with

source as (

    select * from {{ source('raw_survey', 'responses') }}

),

latest as (

    {{ latest_version('source', 'response_id, question', updated_at='exported_at') }}

),

renamed as (

    select
        response_id || ':' || question as answer_id,
        response_id,
        question,
        customer_id,
        survey_type,
        touchpoint,
        ticket_id,
        submitted_at,
        score,
        scale_max,
        coalesce(length(btrim(comment)), 0) as comment_length,
        coalesce(length(btrim(comment)), 0) > 0 as has_comment,
        vendor,
        export_id,
        exported_at
    from latest

)

select * from renamed

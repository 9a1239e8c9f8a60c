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
        -- the text with phone numbers, emails and ID numbers replaced (the catalogue's rule: scrub)
        nullif(btrim({{ pii('raw_survey', 'responses', 'comment') }}), '') as comment_scrubbed,
        vendor,
        export_id,
        exported_at
    from latest

)

select * from renamed

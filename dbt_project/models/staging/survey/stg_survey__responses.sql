with

source as (

    select
        *,
        {{ latest_per_key("response_id, question", "exported_at") }} as version_rank
    from {{ source('raw_survey', 'responses') }}

),

renamed as (

    select
        response_id || ':' || question as answer_id,
        response_id,
        customer_id,
        survey_type,
        touchpoint,
        ticket_id,
        submitted_at,
        question,
        score,
        scale_max,
        coalesce(length(comment), 0) > 0 as has_comment,
        vendor,
        export_id
    from source
    where version_rank = 1

)

select * from renamed

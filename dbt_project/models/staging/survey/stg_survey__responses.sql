{{
    config(
        post_hook=[
            "update {{ this }} as staged set comment_length = 0, has_comment = false, comment_scrubbed = null from {{ source('raw_survey', 'responses') }} as landed where {{ nulled_in_raw('comment') }} and staged.has_comment"
        ]
    )
}}
{#- Merged by key (dbt_project.yml; macros/latest_version.sql): a table rebuilt each run scrubbed
    every comment of the history again. A run scrubs the answers landed since and keeps, per answer,
    the latest of those and the row it holds. The post-hook clears the comment of every kept answer
    whose landed comment privacy has since nulled in raw (retention, erasure; found through the raw
    table's partial index on such rows), as a rebuild would: each row keeps the landed row's
    `_batch_id` and `_row_number` for that (a table staged without them, by an earlier telco-dw, is
    staged again whole, once). -#}

with

source as (

    select * from {{ source('raw_survey', 'responses') }}
    -- the rows landed since the latest this table holds (every row on a full build)
    where {{ landed_since_kept(needs=['_batch_id', '_row_number']) }}

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
        exported_at,
        _batch_id,
        _row_number,
        -- when the kept answer landed: the survey aggregates build again the customers of the
        -- answers landed since their last run
        _loaded_at
    from latest

),

-- an incremental run keeps, for each answer landed since, its latest export between those rows and
-- the row kept (macros/latest_version.sql)
merged as (

    {{ latest_of_landed_and_kept('renamed', 'answer_id', updated_at='exported_at',
        needs=['_batch_id', '_row_number']) }}

)

select * from merged

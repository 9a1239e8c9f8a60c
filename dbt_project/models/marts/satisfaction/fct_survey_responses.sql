with

answers as (

    select * from {{ ref('int_survey_responses_scored') }}

),

-- the CRM's customers (dim_customers' rows), read from staging so the facts need not wait for the
-- customer 360; the relationships test to dim_customers still checks every key
customers as (

    select * from {{ ref('stg_crm__customers') }}

),

-- Each survey type asks one headline question (the score its measure is computed from): the answer
-- to it is the response's score. Vendors may add questions; those answers stay in staging.
headline_answers as (

    select answers.*
    from answers
    where
        answers.question = case answers.survey_type
            when 'nps' then 'likelihood_to_recommend'
            when 'csat' then 'satisfaction_with_resolution'
            when 'ces' then 'ease_of_resolution'
        end

),

final as (

    select
        headline_answers.response_id,
        headline_answers.customer_id,
        headline_answers.survey_type,
        headline_answers.touchpoint,
        headline_answers.ticket_id,
        headline_answers.question,
        headline_answers.submitted_at,
        (headline_answers.submitted_at at time zone 'UTC')::date as submitted_date,
        date_trunc('month', headline_answers.submitted_at at time zone 'UTC')::date as submitted_month_start_date,
        headline_answers.score,
        headline_answers.scale_max,
        round(headline_answers.score * 10.0 / headline_answers.scale_max, 4) as score_out_of_10,
        headline_answers.nps_category,
        case when headline_answers.survey_type = 'nps' then headline_answers.nps_category = 'promoter' end
            as is_nps_promoter,
        case when headline_answers.survey_type = 'nps' then headline_answers.nps_category = 'detractor' end
            as is_nps_detractor,
        headline_answers.is_csat_top_2_box,
        headline_answers.is_ces_agree,
        headline_answers.has_comment,
        headline_answers.comment_scrubbed
    from headline_answers
    -- respondents the CRM does not know (orphans) are left out; staging's relationship test warns
    inner join customers
        on headline_answers.customer_id = customers.customer_id

)

select * from final

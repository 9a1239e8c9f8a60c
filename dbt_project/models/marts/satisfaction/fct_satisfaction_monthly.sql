-- depends_on: {{ ref('int_customers_valued') }}
-- (read by no query: a scheduling edge, as in fct_billing_monthly.sql)
with

months as (

    select * from {{ ref('int_months_observed') }}

),

-- the customer's months in service or invoiced, with their region, tenure segment and revenue
customer_months as (

    select * from {{ ref('int_customer_months_billed') }}

),

-- the CRM's customers (dim_customers' rows), read from staging so the table need not wait for the
-- customer 360
customers as (

    select
        customer_id,
        province,
        (signed_up_at at time zone 'UTC')::date as signed_up_date
    from {{ ref('stg_crm__customers') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

-- Every measure below is attributed to the month of its event and to the customer's region and
-- tenure segment in that month, then summed: sums of counts roll up to any coarser grain exactly.
survey_measures as (

    select
        responses.submitted_month_start_date as month_start_date,
        customers.province as region,
        {{ tenure_segment('customers.signed_up_date', 'responses.submitted_month_start_date') }} as tenure_segment,
        count(*) filter (where responses.survey_type = 'nps') as nps_response_count,
        count(*) filter (where responses.is_nps_promoter) as nps_promoter_count,
        count(*) filter (where responses.nps_category = 'passive') as nps_passive_count,
        count(*) filter (where responses.is_nps_detractor) as nps_detractor_count,
        count(*) filter (where responses.survey_type = 'csat') as csat_response_count,
        count(*) filter (where responses.is_csat_top_2_box) as csat_top_2_box_count,
        coalesce(sum(responses.score_out_of_10) filter (where responses.survey_type = 'csat'), 0)
            as csat_score_out_of_10_sum,
        count(*) filter (where responses.survey_type = 'ces') as ces_response_count,
        coalesce(sum(responses.score) filter (where responses.survey_type = 'ces'), 0) as ces_score_sum,
        count(*) filter (where responses.is_ces_agree) as ces_agree_count
    from responses
    inner join customers
        on responses.customer_id = customers.customer_id
    group by 1, 2, 3

),

complaint_measures as (

    select
        complaints.created_month_start_date as month_start_date,
        customers.province as region,
        {{ tenure_segment('customers.signed_up_date', 'complaints.created_month_start_date') }} as tenure_segment,
        count(*) as complaint_count,
        count(*) filter (where complaints.met_24h_response) as met_24h_response_count,
        count(*) filter (where complaints.met_48h_resolution) as met_48h_resolution_count,
        count(*) filter (where complaints.is_first_contact_resolution) as first_contact_resolution_count
    from complaints
    inner join customers
        on complaints.customer_id = customers.customer_id
    group by 1, 2, 3

),

-- Churn, subscriber days and revenue, one pass over the customer months (revenue counts in the
-- calendar month of the invoice's billing_month: int_customer_months_billed).
customer_measures as (

    select
        customer_months.month_start_date,
        customer_months.region,
        customer_months.tenure_segment,
        count(*) filter (where customer_months.is_active_at_month_start) as active_at_month_start_count,
        count(*) filter (where customer_months.is_churned_in_month) as churned_count,
        count(*) filter (where customer_months.churn_type = 'voluntary') as voluntary_churned_count,
        count(*) filter (where customer_months.churn_type = 'involuntary') as involuntary_churned_count,
        sum({{ days_in_service(
            'customer_months.first_full_day', 'customer_months.last_day_in_service',
            'customer_months.month_start_date', 'months.observed_through_date'
        ) }}) as subscriber_days,
        sum(customer_months.revenue_excl_tax) as revenue_excl_tax
    from customer_months
    -- the days in service of the month as observed (the customer-months keep the days of service)
    inner join months
        on customer_months.month_start_date = months.month_start_date
    group by 1, 2, 3

),

cells as (

    select
        survey_measures.month_start_date,
        survey_measures.region,
        survey_measures.tenure_segment
    from survey_measures
    union
    select
        complaint_measures.month_start_date,
        complaint_measures.region,
        complaint_measures.tenure_segment
    from complaint_measures
    union
    select
        customer_measures.month_start_date,
        customer_measures.region,
        customer_measures.tenure_segment
    from customer_measures

),

joined as (

    select
        cells.month_start_date,
        cells.region,
        cells.tenure_segment,
        months.days_observed,
        months.is_complete as is_complete_month,
        coalesce(survey_measures.nps_response_count, 0) as nps_response_count,
        coalesce(survey_measures.nps_promoter_count, 0) as nps_promoter_count,
        coalesce(survey_measures.nps_passive_count, 0) as nps_passive_count,
        coalesce(survey_measures.nps_detractor_count, 0) as nps_detractor_count,
        coalesce(survey_measures.csat_response_count, 0) as csat_response_count,
        coalesce(survey_measures.csat_top_2_box_count, 0) as csat_top_2_box_count,
        coalesce(survey_measures.csat_score_out_of_10_sum, 0) as csat_score_out_of_10_sum,
        coalesce(survey_measures.ces_response_count, 0) as ces_response_count,
        coalesce(survey_measures.ces_score_sum, 0) as ces_score_sum,
        coalesce(survey_measures.ces_agree_count, 0) as ces_agree_count,
        coalesce(complaint_measures.complaint_count, 0) as complaint_count,
        coalesce(complaint_measures.met_24h_response_count, 0) as met_24h_response_count,
        coalesce(complaint_measures.met_48h_resolution_count, 0) as met_48h_resolution_count,
        coalesce(complaint_measures.first_contact_resolution_count, 0) as first_contact_resolution_count,
        coalesce(customer_measures.active_at_month_start_count, 0) as active_at_month_start_count,
        coalesce(customer_measures.churned_count, 0) as churned_count,
        coalesce(customer_measures.voluntary_churned_count, 0) as voluntary_churned_count,
        coalesce(customer_measures.involuntary_churned_count, 0) as involuntary_churned_count,
        coalesce(customer_measures.subscriber_days, 0) as subscriber_days,
        coalesce(customer_measures.revenue_excl_tax, 0) as revenue_excl_tax
    from cells
    -- observed months only: nothing before the first month with data or after the data's last day
    inner join months
        on cells.month_start_date = months.month_start_date
    left join survey_measures
        on
            cells.month_start_date = survey_measures.month_start_date
            and cells.region = survey_measures.region
            and cells.tenure_segment = survey_measures.tenure_segment
    left join complaint_measures
        on
            cells.month_start_date = complaint_measures.month_start_date
            and cells.region = complaint_measures.region
            and cells.tenure_segment = complaint_measures.tenure_segment
    left join customer_measures
        on
            cells.month_start_date = customer_measures.month_start_date
            and cells.region = customer_measures.region
            and cells.tenure_segment = customer_measures.tenure_segment

),

final as (

    select
        to_char(month_start_date, 'YYYY-MM') || '|' || region || '|' || tenure_segment as satisfaction_month_id,
        month_start_date,
        region,
        tenure_segment,
        days_observed,
        is_complete_month,
        nps_response_count,
        nps_promoter_count,
        nps_passive_count,
        nps_detractor_count,
        round(100.0 * (nps_promoter_count - nps_detractor_count) / nullif(nps_response_count, 0), 4) as nps,
        csat_response_count,
        csat_top_2_box_count,
        round(100.0 * csat_top_2_box_count / nullif(csat_response_count, 0), 4) as csat,
        csat_score_out_of_10_sum,
        round(csat_score_out_of_10_sum / nullif(csat_response_count, 0), 4) as csat_mean_score,
        round(10 * csat_score_out_of_10_sum / nullif(csat_response_count, 0), 4) as csat_index,
        ces_response_count,
        ces_score_sum,
        round(1.0 * ces_score_sum / nullif(ces_response_count, 0), 4) as ces,
        ces_agree_count,
        round(1.0 * ces_agree_count / nullif(ces_response_count, 0), 6) as ces_agree_rate,
        complaint_count,
        met_24h_response_count,
        met_48h_resolution_count,
        first_contact_resolution_count,
        round(1.0 * met_24h_response_count / nullif(complaint_count, 0), 6) as sla_24h_response_rate,
        round(1.0 * met_48h_resolution_count / nullif(complaint_count, 0), 6) as sla_48h_resolution_rate,
        round(1.0 * first_contact_resolution_count / nullif(complaint_count, 0), 6) as fcr_rate,
        active_at_month_start_count,
        churned_count,
        voluntary_churned_count,
        involuntary_churned_count,
        round(1.0 * churned_count / nullif(active_at_month_start_count, 0), 6) as churn_rate,
        round(1.0 * voluntary_churned_count / nullif(active_at_month_start_count, 0), 6) as voluntary_churn_rate,
        round(1.0 * involuntary_churned_count / nullif(active_at_month_start_count, 0), 6) as involuntary_churn_rate,
        subscriber_days,
        round(1.0 * subscriber_days / days_observed, 4) as average_active_subscribers,
        revenue_excl_tax,
        round(revenue_excl_tax * days_observed / nullif(subscriber_days, 0), 4) as arpu
    from joined

)

select * from final

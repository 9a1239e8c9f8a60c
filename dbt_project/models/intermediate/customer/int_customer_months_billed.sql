-- Incremental (dbt_project.yml): a run builds the months observed since its last build for every
-- customer, and every month of the customers with a change landed since or newly in service
-- (macros/customer_months.sql); its pre-hook has deleted those rows, and they are appended.
-- depends_on: {{ ref('snap_crm__subscriptions') }}, {{ ref('stg_crm__subscriptions') }},
-- {{ ref('int_subscriptions_aggregated_to_customers') }} (read on incremental runs)

-- On an incremental run the scoped reads are materialised: the planner filters them to the few
-- changed customers first, instead of joining every row before the filter.
with
{{ changed_customers_ctes(accounts=true) }}
customers as (

    select
        *,
        (signed_up_at at time zone 'UTC')::date as signed_up_date
    from {{ ref('stg_crm__customers') }}

),

customer_months as {{ 'materialized' if changed_customers_scoped() }} (

    select spined.* from {{ ref('int_customer_months_spined') }} as spined
    {{ changed_customers_join('spined.customer_id') }}
    where {{ customer_months_scope('spined.month_start_date') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

accounts as (

    select * from {{ ref('stg_billing__accounts') }}

),

invoices as {{ 'materialized' if changed_customers_scoped() }} (

    select paid.* from {{ ref('int_invoices_paid') }} as paid
    {{ changed_customers_join('paid.account_id', 'changed_accounts', key='account_id') }}
    where {{ customer_months_scope('paid.billing_month', key='account_id') }}

),

-- Invoices, and the payments of each (counted in int_invoices_paid by their latest status), by the
-- calendar month of the invoice's billing_month (a sign-up's first invoice carries the sign-up day as
-- its billing month; as in fct_satisfaction_monthly): one aggregate, one join of the accounts.
billed_months as (

    select
        accounts.customer_id,
        date_trunc('month', invoices.billing_month)::date as month_start_date,
        count(*) as invoice_count,
        sum(invoices.amount_excl_tax) as revenue_excl_tax,
        sum(invoices.tax_amount) as tax_amount,
        sum(invoices.amount_incl_tax) as amount_incl_tax,
        sum(invoices.paid_amount) as paid_amount,
        sum(invoices.settled_payment_count)::bigint as settled_payment_count,
        sum(invoices.late_payment_count)::bigint as late_payment_count,
        sum(invoices.failed_payment_count)::bigint as failed_payment_count
    from invoices
    inner join accounts
        on invoices.account_id = accounts.account_id
    group by 1, 2

),

-- Months in which the customer was in service or was invoiced (a final bill after the churn): one
-- full join on the key, not a union of the keys joined back to both sides.
customer_months_billed as (

    select
        coalesce(customer_months.customer_id, billed_months.customer_id) as customer_id,
        coalesce(customer_months.month_start_date, billed_months.month_start_date) as month_start_date,
        customer_months.is_active_at_month_start,
        customer_months.is_churned_in_month,
        customer_months.churn_type,
        customer_months.first_full_day,
        customer_months.last_day_in_service,
        billed_months.invoice_count,
        billed_months.revenue_excl_tax,
        billed_months.tax_amount,
        billed_months.amount_incl_tax,
        billed_months.paid_amount,
        billed_months.settled_payment_count,
        billed_months.late_payment_count,
        billed_months.failed_payment_count
    from customer_months
    full outer join billed_months
        on
            customer_months.customer_id = billed_months.customer_id
            and customer_months.month_start_date = billed_months.month_start_date

),

final as (

    select
        customer_months_billed.customer_id || '|' || to_char(customer_months_billed.month_start_date, 'YYYY-MM')
            as customer_month_id,
        customer_months_billed.customer_id,
        customer_months_billed.month_start_date,
        customers.province as region,
        {{ tenure_segment('customers.signed_up_date', 'customer_months_billed.month_start_date') }} as tenure_segment,
        coalesce(customer_months_billed.is_active_at_month_start, false) as is_active_at_month_start,
        coalesce(customer_months_billed.is_churned_in_month, false) as is_churned_in_month,
        customer_months_billed.churn_type,
        -- the days of service, not the days in service of the month as observed (macro
        -- days_in_service): a row does not change as the data's last day moves on
        customer_months_billed.first_full_day,
        customer_months_billed.last_day_in_service,
        coalesce(customer_months_billed.invoice_count, 0) as invoice_count,
        coalesce(customer_months_billed.revenue_excl_tax, 0) as revenue_excl_tax,
        coalesce(customer_months_billed.tax_amount, 0) as tax_amount,
        coalesce(customer_months_billed.amount_incl_tax, 0) as amount_incl_tax,
        coalesce(customer_months_billed.paid_amount, 0) as paid_amount,
        coalesce(customer_months_billed.settled_payment_count, 0) as settled_payment_count,
        coalesce(customer_months_billed.late_payment_count, 0) as late_payment_count,
        coalesce(customer_months_billed.failed_payment_count, 0) as failed_payment_count
    from customer_months_billed
    -- observed months only, like fct_satisfaction_monthly; CRM customers only (billing's orphans out)
    inner join months
        on customer_months_billed.month_start_date = months.month_start_date
    inner join customers
        on customer_months_billed.customer_id = customers.customer_id

)

select * from final

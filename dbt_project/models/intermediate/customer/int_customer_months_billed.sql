with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

customer_months as (

    select * from {{ ref('int_customer_months_spined') }}

),

months as (

    select * from {{ ref('int_months_observed') }}

),

accounts as (

    select * from {{ ref('stg_billing__accounts') }}

),

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

-- A sign-up's first invoice carries the sign-up day as its billing month: an invoice counts in the
-- calendar month of its billing_month (as in fct_satisfaction_monthly).
invoice_months as (

    select
        accounts.customer_id,
        date_trunc('month', invoices.billing_month)::date as month_start_date,
        count(*) as invoice_count,
        sum(invoices.amount_excl_tax) as revenue_excl_tax,
        sum(invoices.tax_amount) as tax_amount,
        sum(invoices.amount_incl_tax) as amount_incl_tax
    from invoices
    inner join accounts
        on invoices.account_id = accounts.account_id
    group by 1, 2

),

-- Payments by the month of the invoice they pay, each counted by its latest status.
payment_months as (

    select
        accounts.customer_id,
        date_trunc('month', invoices.billing_month)::date as month_start_date,
        count(*) filter (where payments.payment_status = 'settled') as settled_payment_count,
        count(*) filter (where payments.payment_status = 'late') as late_payment_count,
        count(*) filter (where payments.payment_status = 'failed') as failed_payment_count,
        coalesce(sum(payments.amount) filter (where payments.payment_status in ('settled', 'late')), 0)
            as paid_amount
    from payments
    inner join invoices
        on payments.invoice_id = invoices.invoice_id
    inner join accounts
        on invoices.account_id = accounts.account_id
    group by 1, 2

),

-- Months in which the customer was in service or was invoiced (a final bill after the churn).
keys as (

    select
        customer_months.customer_id,
        customer_months.month_start_date
    from customer_months
    union
    select
        invoice_months.customer_id,
        invoice_months.month_start_date
    from invoice_months
    inner join customers
        on invoice_months.customer_id = customers.customer_id

),

final as (

    select
        keys.customer_id || '|' || to_char(keys.month_start_date, 'YYYY-MM') as customer_month_id,
        keys.customer_id,
        keys.month_start_date,
        customers.province as region,
        {{ tenure_segment('(customers.signed_up_at at time zone \'UTC\')::date', 'keys.month_start_date') }}
            as tenure_segment,
        months.days_observed,
        months.is_complete as is_complete_month,
        coalesce(customer_months.is_active_at_month_start, false) as is_active_at_month_start,
        coalesce(customer_months.is_churned_in_month, false) as is_churned_in_month,
        customer_months.churn_type,
        coalesce(customer_months.subscriber_days, 0) as subscriber_days,
        round(1.0 * coalesce(customer_months.subscriber_days, 0) / months.days_observed, 6) as subscriber_months,
        coalesce(invoice_months.invoice_count, 0) as invoice_count,
        coalesce(invoice_months.revenue_excl_tax, 0) as revenue_excl_tax,
        coalesce(invoice_months.tax_amount, 0) as tax_amount,
        coalesce(invoice_months.amount_incl_tax, 0) as amount_incl_tax,
        coalesce(payment_months.paid_amount, 0) as paid_amount,
        coalesce(payment_months.settled_payment_count, 0) as settled_payment_count,
        coalesce(payment_months.late_payment_count, 0) as late_payment_count,
        coalesce(payment_months.failed_payment_count, 0) as failed_payment_count
    from keys
    -- observed months only, like fct_satisfaction_monthly
    inner join months
        on keys.month_start_date = months.month_start_date
    inner join customers
        on keys.customer_id = customers.customer_id
    left join customer_months
        on
            keys.customer_id = customer_months.customer_id
            and keys.month_start_date = customer_months.month_start_date
    left join invoice_months
        on
            keys.customer_id = invoice_months.customer_id
            and keys.month_start_date = invoice_months.month_start_date
    left join payment_months
        on
            keys.customer_id = payment_months.customer_id
            and keys.month_start_date = payment_months.month_start_date

)

select * from final

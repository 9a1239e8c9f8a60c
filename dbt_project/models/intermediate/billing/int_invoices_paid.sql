-- Merged by invoice (macros/latest_version.sql): a run recounts the invoices staged since the latest
-- load this table holds, and those with a payment staged since, from all their payments. Billing's
-- tables land one batch after another, so one `_loaded_at` bound serves both.
{%- set landed = landed_since_kept() %}

with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

{% if is_incremental() -%}
recounted as (

    select invoice_id from invoices
    where {{ landed }}
    union
    select invoice_id from payments
    where {{ landed }}

),
{%- endif %}

-- Payments by invoice, each counted by its latest status.
invoice_payments as (

    select
        invoice_id,
        count(*) filter (where payment_status = 'settled') as settled_payment_count,
        count(*) filter (where payment_status = 'late') as late_payment_count,
        count(*) filter (where payment_status = 'failed') as failed_payment_count,
        sum(amount) filter (where payment_status in ('settled', 'late')) as paid_amount,
        max(paid_at) as last_paid_at,
        max(_loaded_at) as _loaded_at
    from payments
    {%- if is_incremental() %}
    where invoice_id in (select recounted.invoice_id from recounted)
    {%- endif %}
    group by 1

),

final as (

    select
        invoices.invoice_id,
        invoices.account_id,
        invoices.billing_month,
        invoices.amount_excl_tax,
        invoices.tax_amount,
        invoices.amount_incl_tax,
        coalesce(invoice_payments.settled_payment_count, 0) as settled_payment_count,
        coalesce(invoice_payments.late_payment_count, 0) as late_payment_count,
        coalesce(invoice_payments.failed_payment_count, 0) as failed_payment_count,
        invoice_payments.paid_amount,
        invoice_payments.last_paid_at,
        greatest(invoices._loaded_at, invoice_payments._loaded_at) as _loaded_at
    from invoices
    left join invoice_payments
        on invoices.invoice_id = invoice_payments.invoice_id
    {%- if is_incremental() %}
    where invoices.invoice_id in (select recounted.invoice_id from recounted)
    {%- endif %}

)

select * from final

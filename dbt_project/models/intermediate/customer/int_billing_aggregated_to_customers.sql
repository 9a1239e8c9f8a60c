with

accounts as (

    select * from {{ ref('stg_billing__accounts') }}

),

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

-- A customer has one billing account; should there be more, the one opened last is current.
current_accounts as (

    select distinct on (accounts.customer_id)
        accounts.customer_id,
        accounts.account_id,
        accounts.pay_method
    from accounts
    order by accounts.customer_id asc, accounts.opened_at desc nulls last, accounts.account_id desc

),

account_counts as (

    select
        accounts.customer_id,
        count(*) as account_count
    from accounts
    group by accounts.customer_id

),

invoice_totals as (

    select
        accounts.customer_id,
        count(*) as invoice_count,
        sum(invoices.amount_excl_tax) as billed_amount_excl_tax,
        max(invoices.billing_month) as last_billing_month
    from invoices
    inner join accounts
        on invoices.account_id = accounts.account_id
    group by accounts.customer_id

),

payment_counts as (

    select
        accounts.customer_id,
        count(*) filter (where payments.payment_status = 'settled') as settled_payment_count,
        count(*) filter (where payments.payment_status = 'late') as late_payment_count,
        count(*) filter (where payments.payment_status = 'failed') as failed_payment_count,
        max(payments.paid_at) as last_paid_at
    from payments
    inner join invoices
        on payments.invoice_id = invoices.invoice_id
    inner join accounts
        on invoices.account_id = accounts.account_id
    group by accounts.customer_id

),

final as (

    select
        current_accounts.customer_id,
        current_accounts.account_id,
        current_accounts.pay_method,
        account_counts.account_count,
        coalesce(invoice_totals.invoice_count, 0) as invoice_count,
        coalesce(invoice_totals.billed_amount_excl_tax, 0) as billed_amount_excl_tax,
        invoice_totals.last_billing_month,
        coalesce(payment_counts.settled_payment_count, 0) as settled_payment_count,
        coalesce(payment_counts.late_payment_count, 0) as late_payment_count,
        coalesce(payment_counts.failed_payment_count, 0) as failed_payment_count,
        round(
            1.0 * payment_counts.settled_payment_count
            / nullif(
                payment_counts.settled_payment_count
                + payment_counts.late_payment_count
                + payment_counts.failed_payment_count,
                0
            ),
            6
        ) as on_time_payment_rate,
        -- the worst outcome the customer has had: failed, then late, then on time
        case
            when payment_counts.failed_payment_count > 0 then 'failed'
            when payment_counts.late_payment_count > 0 then 'late'
            when payment_counts.settled_payment_count > 0 then 'on time'
            else 'no payments'
        end as payment_behaviour,
        payment_counts.last_paid_at
    from current_accounts
    inner join account_counts
        on current_accounts.customer_id = account_counts.customer_id
    left join invoice_totals
        on current_accounts.customer_id = invoice_totals.customer_id
    left join payment_counts
        on current_accounts.customer_id = payment_counts.customer_id

)

select * from final

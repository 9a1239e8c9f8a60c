-- Incremental (dbt_project.yml): a run builds again the customers with an account or an invoice
-- recounted (a payment) landed since (macros/changed_customers.sql); its pre-hook has deleted their
-- rows, and they are appended. Nothing here depends on the as-of day.

-- On an incremental run the scoped reads are materialised: the planner filters them to the few
-- changed customers first, instead of joining every row before the filter.
with
{{ changed_customers_ctes(accounts=true) }}
accounts as {{ 'materialized' if changed_customers_scoped() }} (

    select kept.* from {{ ref('stg_billing__accounts') }} as kept
    {{ changed_customers_join('kept.customer_id') }}
    where {{ changed_customers_scope() }}

),

-- each invoice with its payments counted by their latest status
invoices as {{ 'materialized' if changed_customers_scoped() }} (

    select paid.* from {{ ref('int_invoices_paid') }} as paid
    {{ changed_customers_join('paid.account_id', 'changed_accounts', key='account_id') }}
    where {{ changed_customers_scope(key='account_id') }}

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

-- one aggregate of the invoices (and their payments) through the accounts
billed as (

    select
        accounts.customer_id,
        count(*) as invoice_count,
        sum(invoices.amount_excl_tax) as billed_amount_excl_tax,
        max(invoices.billing_month) as last_billing_month,
        sum(invoices.settled_payment_count)::bigint as settled_payment_count,
        sum(invoices.late_payment_count)::bigint as late_payment_count,
        sum(invoices.failed_payment_count)::bigint as failed_payment_count,
        max(invoices.last_paid_at) as last_paid_at
    from invoices
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
        coalesce(billed.invoice_count, 0) as invoice_count,
        coalesce(billed.billed_amount_excl_tax, 0) as billed_amount_excl_tax,
        billed.last_billing_month,
        coalesce(billed.settled_payment_count, 0) as settled_payment_count,
        coalesce(billed.late_payment_count, 0) as late_payment_count,
        coalesce(billed.failed_payment_count, 0) as failed_payment_count,
        round(
            1.0 * billed.settled_payment_count
            / nullif(
                billed.settled_payment_count
                + billed.late_payment_count
                + billed.failed_payment_count,
                0
            ),
            6
        ) as on_time_payment_rate,
        -- the worst outcome the customer has had: failed, then late, then on time
        case
            when billed.failed_payment_count > 0 then 'failed'
            when billed.late_payment_count > 0 then 'late'
            when billed.settled_payment_count > 0 then 'on time'
            else 'no payments'
        end as payment_behaviour,
        billed.last_paid_at
    from current_accounts
    inner join account_counts
        on current_accounts.customer_id = account_counts.customer_id
    left join billed
        on current_accounts.customer_id = billed.customer_id

)

select * from final

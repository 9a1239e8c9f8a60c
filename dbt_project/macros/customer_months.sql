{#-
    The customer-months (`int_customer_months_billed`) are rebuilt in part on an incremental run:
    every customer's month in progress changes each day (its days observed, its days in service),
    but a closed month changes only for a customer with a change landed since. A run deletes the
    rows of its scope (`customer_months_delete_scope()`), builds them again (`customer_months_scope()`)
    and appends them:

    - the months from `customer_months_first_rebuilt()` on, for every customer: the latest month the
      table holds (the month in progress of the last build), the months after the latest observed
      one (the data's last day moved back), and every month when the first observed month moved;
    - every month of the customers with a change landed since the table's last build
      (`customer_months_changed()`, from the `read_through` its record keeps for each upstream in
      `meta.merge_window_reads`: `merge_window_record()`, macros/merge_window.sql): a CRM record, a
      subscription (each customer that held it, from its snapshotted versions), a billing account,
      an invoice recounted with its payments (`int_invoices_paid`); and the customers of the
      published customer 360 that the CRM no longer has (`vanished_customers()`), whose rows go.

    A billing record is taken to keep its parent (an invoice its account, an account its customer,
    as `int_invoices_paid` takes a payment to keep its invoice; docs/warehouse.md). A table without
    a record (built by an earlier telco-dw) is rebuilt whole, once. A full build builds every row.
-#}

{#- The first month every customer's rows are rebuilt from (SQL date literal), read when the model is
    rendered, before its pre-hook deletes anything: the latest month the table holds, the latest
    observed month, and the first observed month if it is not the one the table's record keeps
    (`observed_from`, `customer_months_record()`), else the earlier of the two; '-infinity' when
    there is nothing to keep. -#}
{% macro customer_months_first_rebuilt() -%}
    {%- set recorded = (merge_window_recorded(this) or {}).get('observed_from') -%}
    {%- set recorded = "'" ~ recorded ~ "'::date" if recorded else 'null::date' -%}
    {%- set found = run_query(
        "with kept as (select max(month_start_date) as last from " ~ this ~ "),"
        ~ " observed as (select min(month_start_date) as first, max(month_start_date) as last from "
        ~ ref('int_months_observed') ~ ")"
        ~ " select coalesce(least(kept.last, observed.last, case when observed.first is distinct from "
        ~ recorded ~ " then least(observed.first, " ~ recorded ~ ") end), '-infinity')::text from kept, observed"
    ) -%}
    {{- return("'" ~ found.columns[0].values()[0] ~ "'::date") -}}
{%- endmacro %}

{#- A post-hook after `merge_window_record()`: the first observed month of this build joins the
    record (`observed_from`), so the next run knows whether it moved. The first month a table holds
    a row in may be later (no customer in service nor invoiced in it). -#}
{% macro customer_months_record() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = dbt.string_literal(this | string) -%}
    do $customer_months_record$
    begin
        execute format('comment on table %s is %L', {{ relation }},
            obj_description({{ relation }}::regclass, 'pg_class')::jsonb || jsonb_build_object(
                'observed_from', (select min(month_start_date) from {{ ref('int_months_observed') }})
            ));
    end $customer_months_record$
{%- endmacro %}

{#- The customers with a change landed since the table's last build (a query of `customer_id`), or
    none when the table has no record of what it read. -#}
{% macro customer_months_changed() -%}
    {%- set read = {} -%}
    {%- for upstream in ['stg_crm__customers', 'stg_crm__subscriptions', 'stg_billing__accounts', 'int_invoices_paid'] -%}
        {%- set through = merge_window_read_through(upstream) -%}
        {%- if not through -%}
            {{- return(none) -}}
        {%- endif -%}
        {%- do read.update({upstream: "'" ~ through ~ "'::timestamptz"}) -%}
    {%- endfor -%}
    {%- set query -%}
        select customers.customer_id from {{ ref('stg_crm__customers') }} as customers
        where customers._loaded_at > {{ read['stg_crm__customers'] }}
        union
        select versions.customer_id from {{ ref('snap_crm__subscriptions') }} as versions
        where versions.subscription_id in (
            select subscriptions.subscription_id from {{ ref('stg_crm__subscriptions') }} as subscriptions
            where subscriptions._loaded_at > {{ read['stg_crm__subscriptions'] }}
        )
        union
        select accounts.customer_id from {{ ref('stg_billing__accounts') }} as accounts
        where
            accounts._loaded_at > {{ read['stg_billing__accounts'] }}
            or accounts.account_id in (
                select invoices.account_id from {{ ref('int_invoices_paid') }} as invoices
                where invoices._loaded_at > {{ read['int_invoices_paid'] }}
            )
        union
        ({{ vanished_customers(ref('stg_crm__customers')) }})
    {%- endset -%}
    {{- return(query) -}}
{%- endmacro %}

{#- The CTEs of the changed customers (and, with `accounts`, their billing accounts), placed first
    in the model's `with`; none on a full build and on a table without a record. -#}
{% macro customer_months_changed_ctes(accounts=false) -%}
    {%- set changed = customer_months_changed() if execute and is_incremental() -%}
    {%- if not changed -%}
        {{ return('') }}
    {%- endif %}
changed_customers as materialized (

    {{ changed }}

),
{% if accounts %}
changed_accounts as materialized (

    select account_id from {{ ref('stg_billing__accounts') }}
    where customer_id in (select changed_customers.customer_id from changed_customers)

),
{% endif %}
{%- endmacro %}

{#- The rows this run builds, read through a left join of the changed customers (`in_scope`; a
    join, not `in (...)` under the `or`: a subquery the planner expects to be large is not hashed
    but scanned again for each row, and at 1M customers it expected a million changed customers).
    `customer_months_scope_join(customer_id)`: the join on `customer_id` (an SQL expression) of
    `changed` (the CTE of `customer_months_changed_ctes()`) by its column `key`;
    `customer_months_scope(month_start_date)`: the condition. No join and `true` on a full build and
    on a table without a record. -#}
{% macro customer_months_scope_join(customer_id, changed='changed_customers', key='customer_id') -%}
    {%- if not (execute and is_incremental()) or customer_months_changed() is none -%}
        {{- return('') -}}
    {%- endif -%}
    {{- return('left join ' ~ changed ~ ' as in_scope on in_scope.' ~ key ~ ' = ' ~ customer_id) -}}
{%- endmacro %}

{% macro customer_months_scope(month_start_date, key='customer_id') -%}
    {%- if not (execute and is_incremental()) or customer_months_changed() is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {{- return(
        '(' ~ month_start_date ~ ' >= ' ~ customer_months_first_rebuilt() ~ ' or in_scope.' ~ key ~ ' is not null)'
    ) -}}
{%- endmacro %}

{#- The pre-hook: on an incremental run, the rows of the scope go, to be built again (two deletes, the
    second a join; everything without a record). -#}
{% macro customer_months_delete_scope() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set changed = customer_months_changed() -%}
    {%- if changed is none -%}
        delete from {{ this }}
    {%- else -%}
        delete from {{ this }} where month_start_date >= {{ customer_months_first_rebuilt() }};
        delete from {{ this }} as kept using ({{ changed }}) as changed where kept.customer_id = changed.customer_id
    {%- endif -%}
{%- endmacro %}

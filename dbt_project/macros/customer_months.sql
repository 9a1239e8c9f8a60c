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
      (`changed_customers()`, macros/changed_customers.sql: a CRM record, a subscription, a billing
      account, an invoice recounted with its payments; and the customers of the published customer
      360 that the CRM no longer has, whose rows go).

    A table without a record (built by an earlier telco-dw) is rebuilt whole, once. A full build
    builds every row.
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

{#- The condition of the rows this run builds (read through `changed_customers_join()`,
    macros/changed_customers.sql): every customer's months from `customer_months_first_rebuilt()`
    on, and every month of a changed customer; `true` on a full build and on a table without a
    record. -#}
{% macro customer_months_scope(month_start_date, key='customer_id') -%}
    {%- if not (execute and is_incremental()) or changed_customers() is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {{- return(
        '(' ~ month_start_date ~ ' >= ' ~ customer_months_first_rebuilt() ~ ' or ' ~ changed_customers_scope(key) ~ ')'
    ) -}}
{%- endmacro %}

{#- The pre-hook: on an incremental run, the rows of the scope go, to be built again (two deletes, the
    second a join; everything without a record). -#}
{% macro customer_months_delete_scope() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return('') }}
    {%- endif -%}
    {%- if changed_customers() is none -%}
        delete from {{ this }}
    {%- else -%}
        delete from {{ this }} where month_start_date >= {{ customer_months_first_rebuilt() }};
        {{ changed_customers_delete() }}
    {%- endif -%}
{%- endmacro %}

{#-
    The customer-months (`int_customer_months_billed`) are rebuilt in part on an incremental run. A
    row holds nothing that depends on the data's last day (the days of service, not the days in
    service of the month as observed: macro days_in_service), so a month already built changes only
    for a customer with a change. A run deletes the rows of its scope (`customer_months_delete_scope()`),
    builds them again (`customer_months_scope()`) and appends them:

    - the months from `customer_months_first_rebuilt()` on, for every customer: the months observed
      after the latest month the table holds (on the first run of a month, the new month), the months
      after the latest observed one (the data's last day moved back: their rows go), and every month
      when the first observed month moved;
    - every month of the customers with a change landed since the table's last build
      (`changed_customers()`, macros/changed_customers.sql: a CRM record, a subscription, a billing
      account, an invoice recounted with its payments; and the customers of the published customer
      360 that the CRM no longer has, whose rows go), and of the customers whose first activation the
      data's last day has passed since (`customers_newly_in_service()`: the month in progress gains
      their row).

    Until 2026-12-05 a row held the month's days observed and days in service, and every customer's
    month in progress was built again every day (a million rows at 1M customers). A table without a
    record of the last build's data day (built by an earlier telco-dw) is rebuilt whole, once. A full
    build builds every row.
-#}

{#- The first month every customer's rows are rebuilt from (SQL date literal), read when the model is
    rendered, before its pre-hook deletes anything: the month after the latest month the table holds,
    the month after the latest observed one, and the first observed month if it is not the one the
    table's record keeps (`observed_from`, `customer_months_record()`), else the earlier of the two;
    '-infinity' when there is no such month (nothing kept and nothing observed). -#}
{% macro customer_months_first_rebuilt() -%}
    {%- set recorded = (merge_window_recorded(this) or {}).get('observed_from') -%}
    {%- set recorded = "'" ~ recorded ~ "'::date" if recorded else 'null::date' -%}
    {%- set found = run_query(
        "with kept as (select max(month_start_date) as last from " ~ this ~ "),"
        ~ " observed as (select min(month_start_date) as first, max(month_start_date) as last from "
        ~ ref('int_months_observed') ~ ")"
        ~ " select coalesce(least((kept.last + interval '1 month')::date, (observed.last + interval '1 month')::date,"
        ~ " case when observed.first is distinct from " ~ recorded ~ " then least(observed.first, " ~ recorded ~ ") end),"
        ~ " '-infinity')::text from kept, observed"
    ) -%}
    {{- return("'" ~ found.columns[0].values()[0] ~ "'::date") -}}
{%- endmacro %}

{#- The customers whose first activation the data's last day has passed since the table's last build,
    or passed back (a query of `customer_id`): activated from the day after the earlier of the two
    last days to the end of the later (none between two builds of the same last day). A customer-month
    is in service from an activation before the month's observed-through day ends, so these gain or
    lose the row of the month in progress; any other row is the same whatever the last day. None
    when the table's record has no last day (built by an earlier telco-dw: rebuilt whole). -#}
{% macro customers_newly_in_service() -%}
    {%- set through = (merge_window_recorded(this) or {}).get('observed_through') -%}
    {%- if not through -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set last_day = "(select max(observed_through_date) from " ~ ref('int_months_observed') ~ ")" -%}
    {{- return(
        'select activated.customer_id from ' ~ ref('int_subscriptions_aggregated_to_customers') ~ ' as activated'
        ~ " where activated.first_activated_at >= (least('" ~ through ~ "'::date, " ~ last_day ~ ") + 1)::timestamp at time zone 'UTC'"
        ~ " and activated.first_activated_at < (greatest('" ~ through ~ "'::date, " ~ last_day ~ ") + 1)::timestamp at time zone 'UTC'"
    ) -}}
{%- endmacro %}

{#- A post-hook after `merge_window_record()`: the first observed month and the data's last day of
    this build join the record (`observed_from`, `observed_through`), so the next run knows whether
    they moved. The first month a table holds a row in may be later (no customer in service nor
    invoiced in it). -#}
{% macro customer_months_record() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relation = dbt.string_literal(this | string) -%}
    do $customer_months_record$
    begin
        execute format('comment on table %s is %L', {{ relation }},
            obj_description({{ relation }}::regclass, 'pg_class')::jsonb || jsonb_build_object(
                'observed_from', (select min(month_start_date) from {{ ref('int_months_observed') }}),
                'observed_through', (select max(observed_through_date) from {{ ref('int_months_observed') }})
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

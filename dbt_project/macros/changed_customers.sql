{#-
    Customer-keyed incremental models: the customers with a change landed since the table's last
    build, from the `read_through` watermarks its record keeps for each upstream model in
    `meta.merge_window_reads` (`merge_window_record()`, macros/merge_window.sql). Each upstream
    names the customers its changes reach:

    - `stg_crm__customers`: the CRM customers landed since; and the customers of the published
      customer 360 that the CRM no longer has (`vanished_customers()`), whose rows go;
    - `stg_crm__subscriptions`: every customer that holds or held a subscription landed since (the
      staged version, and its snapshotted versions, `snap_crm__subscriptions`);
    - `stg_billing__accounts`: the customers of the accounts landed since, and their former owners
      (`former_customer_ids`: an account moved to another customer changes both);
    - `int_invoices_paid`: the customers of the accounts of the invoices recounted since (an invoice
      with a payment landed since);
    - `stg_survey__responses`: the respondents of the answers landed since (an answer is taken to
      keep its respondent).

    With `meta.changed_customers_in_service`, also the customers whose first activation the data's
    last day has passed since the table's last build (or passed back): their month in progress gains
    (or loses) its row (`customers_newly_in_service()`, macros/customer_months.sql).

    A billing record is taken to keep its parent (an invoice its account, as `int_invoices_paid`
    takes a payment to keep its invoice; docs/warehouse.md).

    Used by `int_customer_months_billed` (macros/customer_months.sql, with its months in progress),
    `int_billing_aggregated_to_customers`, `int_subscriptions_aggregated_to_customers` and
    `int_survey_responses_aggregated_to_customers`, whose runs delete and append again their rows of
    those customers (`changed_customers_delete()`, a pre-hook) instead of every customer's.
-#}

{#- The changed customers (a query of `customer_id`), or none when the table has no record of what
    it read (built by an earlier telco-dw, or in full). -#}
{% macro changed_customers() -%}
    {%- set reads = config.get('meta', {}).get('merge_window_reads') or [] -%}
    {%- set through = {} -%}
    {%- for upstream in reads -%}
        {%- set read = merge_window_read_through(upstream) -%}
        {%- if not read -%}
            {{- return(none) -}}
        {%- endif -%}
        {%- do through.update({upstream: "'" ~ read ~ "'::timestamptz"}) -%}
    {%- endfor -%}
    {%- set branches = [] -%}
    {%- for upstream in reads -%}
        {%- if upstream == 'stg_crm__customers' -%}
            {%- do branches.append(
                'select customers.customer_id from ' ~ ref('stg_crm__customers') ~ ' as customers'
                ~ ' where customers._loaded_at > ' ~ through[upstream]
            ) -%}
            {%- do branches.append('(' ~ vanished_customers(ref('stg_crm__customers')) ~ ')') -%}
        {%- elif upstream == 'stg_crm__subscriptions' -%}
            {#- the customer a subscription landed since belongs to, and every customer an earlier
                version of it belonged to (the snapshot; a build of this model without the snapshot
                still finds the first) -#}
            {%- do branches.append(
                'select subscriptions.customer_id from ' ~ ref('stg_crm__subscriptions') ~ ' as subscriptions'
                ~ ' where subscriptions._loaded_at > ' ~ through[upstream]
            ) -%}
            {%- do branches.append(
                'select versions.customer_id from ' ~ ref('snap_crm__subscriptions') ~ ' as versions'
                ~ ' where versions.subscription_id in (select subscriptions.subscription_id from '
                ~ ref('stg_crm__subscriptions') ~ ' as subscriptions where subscriptions._loaded_at > '
                ~ through[upstream] ~ ')'
            ) -%}
        {%- elif upstream == 'stg_billing__accounts' -%}
            {#- the owner of an account landed since, and its former owners (an account moved) -#}
            {%- do branches.append(
                'select owners.customer_id from ' ~ ref('stg_billing__accounts') ~ ' as accounts'
                ~ ' cross join lateral jsonb_array_elements_text('
                ~ 'accounts.former_customer_ids || to_jsonb(accounts.customer_id)) as owners (customer_id)'
                ~ ' where accounts._loaded_at > ' ~ through[upstream]
            ) -%}
        {%- elif upstream == 'stg_survey__responses' -%}
            {#- the respondent of an answer landed since (an answer keeps its respondent) -#}
            {%- do branches.append(
                'select responses.customer_id from ' ~ ref('stg_survey__responses') ~ ' as responses'
                ~ ' where responses._loaded_at > ' ~ through[upstream]
            ) -%}
        {%- elif upstream == 'int_invoices_paid' -%}
            {%- do branches.append(
                'select accounts.customer_id from ' ~ ref('stg_billing__accounts') ~ ' as accounts'
                ~ ' where accounts.account_id in (select invoices.account_id from ' ~ ref('int_invoices_paid')
                ~ ' as invoices where invoices._loaded_at > ' ~ through[upstream] ~ ')'
            ) -%}
        {%- else -%}
            {%- do exceptions.raise_compiler_error(
                this.identifier ~ ': changed_customers() knows no customers of the changes of ' ~ upstream
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if config.get('meta', {}).get('changed_customers_in_service') -%}
        {%- set in_service = customers_newly_in_service() -%}
        {%- if in_service is none -%}
            {{- return(none) -}}
        {%- endif -%}
        {%- do branches.append(in_service) -%}
    {%- endif -%}
    {{- return(branches | join('\nunion\n')) -}}
{%- endmacro %}

{#- The temporary table of the changed customers that the pre-hook (`changed_customers_delete()`)
    writes and the model reads, in the run's transaction: computed once, and analysed, so the planner
    knows how few they are (for the query it expected a million, and read every row of the scoped
    tables before filtering: at 1M, 11 s of a customer-months run instead of 3). -#}
{% macro changed_customers_table() -%}
    {{- return(adapter.quote(this.identifier ~ '__changed_customers')) -}}
{%- endmacro %}

{#- Whether this run builds the rows of the changed customers only (an incremental run of a table
    with a record): the model's scoped reads are then worth materialising. -#}
{% macro changed_customers_scoped() -%}
    {{- return(execute and is_incremental() and changed_customers() is not none) -}}
{%- endmacro %}

{#- The CTEs of the changed customers (and, with `accounts`, their billing accounts), placed first
    in the model's `with`; none on a full build and on a table without a record. -#}
{% macro changed_customers_ctes(accounts=false) -%}
    {%- if not changed_customers_scoped() -%}
        {{ return('') }}
    {%- endif %}
changed_customers as materialized (

    select customer_id from {{ changed_customers_table() }}

),
{% if accounts %}
changed_accounts as materialized (

    select account_id from {{ ref('stg_billing__accounts') }}
    where customer_id in (select changed_customers.customer_id from changed_customers)

),
{% endif %}
{%- endmacro %}

{#- The rows this run builds, read through a left join of the changed customers (`in_scope`; a
    join, not `in (...)`: a subquery the planner expects to be large is not hashed but scanned again
    for each row, and at 1M customers it expected a million changed customers). The join on
    `customer_id` (an SQL expression) of `changed` (a CTE of `changed_customers_ctes()`) by its
    column `key`; none on a full build and on a table without a record. -#}
{% macro changed_customers_join(customer_id, changed='changed_customers', key='customer_id') -%}
    {%- if not (execute and is_incremental()) or changed_customers() is none -%}
        {{- return('') -}}
    {%- endif -%}
    {{- return('left join ' ~ changed ~ ' as in_scope on in_scope.' ~ key ~ ' = ' ~ customer_id) -}}
{%- endmacro %}

{#- The condition of a row of a changed customer (through `changed_customers_join()`); `true` on a
    full build and on a table without a record. -#}
{% macro changed_customers_scope(key='customer_id') -%}
    {%- if not (execute and is_incremental()) or changed_customers() is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {{- return('in_scope.' ~ key ~ ' is not null') -}}
{%- endmacro %}

{#- A pre-hook of a customer-keyed model: on an incremental run, the changed customers are written
    to `changed_customers_table()` (dropped at the end of the run's transaction) and their rows go,
    to be built again (every row without a record). -#}
{% macro changed_customers_delete() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set changed = changed_customers() -%}
    {%- if changed is none -%}
        delete from {{ this }}
    {%- else -%}
        create temporary table {{ changed_customers_table() }} on commit drop as {{ changed }};
        analyze {{ changed_customers_table() }};
        delete from {{ this }} as kept using {{ changed_customers_table() }} as changed
        where kept.customer_id = changed.customer_id
    {%- endif -%}
{%- endmacro %}

{#-
    The latest version of each source record in a raw table: the newest `updated_at` (the source's
    change time; none for append-only facts), then the latest load (`_loaded_at`), then the last row
    of the file (`_row_number`). Change extracts land a record once per change, redeliveries land it
    again: this is the one rule staging uses to keep one row per source key.
-#}
{% macro latest_version(relation, key, updated_at='updated_at') -%}
    {{ return(adapter.dispatch('latest_version', 'telco_dw')(relation, key, updated_at)) }}
{%- endmacro %}

{% macro default__latest_version(relation, key, updated_at) -%}
    {%- set order_by = [] -%}
    {%- if updated_at -%}
        {%- do order_by.append(updated_at ~ ' desc nulls last') -%}
    {%- endif -%}
    {%- do order_by.extend(['_loaded_at desc', '_row_number desc']) -%}
    {{ return(telco_dw.deduplicate(relation, key, order_by | join(', '))) }}
{%- endmacro %}

{#-
    Incremental staging of a source whose records change at any age (billing: a payment settles
    weeks after its invoice, an invoice is corrected): a run reads the raw rows landed since the
    latest it holds and merges the latest version of each of their keys, instead of sorting every
    version of the history again.

    `landed_since_kept()`: the condition on the raw table (`_loaded_at` above the latest `_loaded_at`
    of this table, a literal, so the planner reads the raw table's BRIN index on it; every row on a
    full build). Loads into one raw table are sequential, so no row committed later has an earlier
    `_loaded_at` (macros/merge_window.sql). `int_invoices_paid` reads the staged invoices and
    payments with it the same way (billing's tables land one batch after another), and the
    subscriptions' snapshot its staging (above the latest `_loaded_at` of its versions).
-#}
{% macro landed_since_kept(needs=[]) -%}
    {%- set kept = is_incremental() or (model.resource_type == 'snapshot' and load_relation(this) is not none) -%}
    {%- if not (execute and kept) or kept_lacks(needs) -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set found = run_query('select max(_loaded_at)::text from ' ~ this) -%}
    {%- set latest = found.columns[0].values()[0] if found and found.rows | length > 0 else none -%}
    {{ return("_loaded_at > '" ~ latest ~ "'::timestamptz" if latest else 'true') }}
{%- endmacro %}

{#-
    The body of the last CTE of such a model: on an incremental run, the latest version of each key
    between the rows of `landed` (the staged rows of the raw rows landed since, one per key) and the
    row this table keeps for it, so a late redelivery of an older version does not replace a newer
    one (the rule of `latest_version`: the newest `updated_at`, then the latest load); the model's
    `unique_key` merge then writes them. On a full build, the rows of `landed`.
-#}
{% macro latest_of_landed_and_kept(landed, key, updated_at='updated_at', needs=[]) -%}
    {%- if not (execute and is_incremental()) or kept_lacks(needs) -%}
        select * from {{ landed }}
    {%- else -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- do columns.append(adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- set versions -%}
            (
                select {{ columns | join(', ') }} from {{ landed }}
                union all
                select {{ columns | join(', ') }} from {{ this }} as kept
                where kept.{{ key }} in (select {{ key }} from {{ landed }})
            )
        {%- endset -%}
        {{ telco_dw.deduplicate(versions, key, updated_at ~ ' desc nulls last, _loaded_at desc nulls last') }}
    {%- endif -%}
{%- endmacro %}

{#- Whether this table lacks any of `columns` (built by an earlier telco-dw): then a run reads every
    raw row (`landed_since_kept(needs=...)`), keeps the latest version of each key among them
    (`latest_of_landed_and_kept(..., needs=...)`), and its merge writes every key with the columns
    added (`on_schema_change: append_new_columns`): a rebuild, once. -#}
{% macro kept_lacks(columns) -%}
    {%- if not columns -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set kept = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return(columns | reject('in', kept) | list | length > 0) }}
{%- endmacro %}

{#- A pre-hook of these models: on an incremental run, the record (the table's comment) of the
    invocation and of the latest `_loaded_at` the table held before it (`landed_after`, the bound
    `landed_since_kept()` read). Their data tests (`where: __merged__`, `merged_filter()` in
    macros/merge_window.sql) then read the rows this run merged, found through the index below;
    after a full build, or in a `dbt test` of its own, the whole table. -#}
{% macro landed_since_record() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return('') }}
    {%- endif -%}
    do $landed_since_record$
    begin
        execute format('comment on table {{ this }} is %L', jsonb_build_object(
            'dbt_invocation_id', {{ dbt.string_literal(invocation_id) }},
            'landed_after', (select max(_loaded_at) from {{ this }})
        )::text);
    end $landed_since_record$
{%- endmacro %}

{#- A post-hook of these models (a no-op on a model that is not merged by key): the unique index on
    the key, through which a run finds the rows it merges, and the index on `_loaded_at`
    (`loaded_at_index()`; no-ops once they exist). -#}
{% macro key_merged_indexes() -%}
    {%- set key = config.get('unique_key') -%}
    {%- if not execute or config.get('materialized') != 'incremental' or not key -%}
        {{ return('') }}
    {%- endif -%}
    {{ unique_index(key, 'key') }};
    {{ loaded_at_index() }}
{%- endmacro %}

{#- A post-hook of a table extended from the rows landed since the latest `_loaded_at` it holds
    (the models merged by key, the subscriptions' snapshot): the index on `_loaded_at`, through which
    a run reads that latest (`landed_since_kept()`, `landed_since_record()`: its last entry, not a
    scan of the table) and the data tests read the rows it merged (a no-op once it exists). -#}
{% macro loaded_at_index() -%}
    {{ table_index(this.identifier ~ '__loaded_at', '_loaded_at') }}
{%- endmacro %}

{#-
    The daily facts of a growing history (the network models) are incremental: a run merges the days
    that new data reached, and the older days stay as they are. How a run finds those days:

    - a staging model reads the rows landed since the rows it read last (`_loaded_at` above the
      `loaded_through` its table records; `merge_window_new_rows`): a day, a late file of any day,
      or a redelivered one, and nothing else. Loads into one raw table are sequential (each ingest
      DAG runs once at a time, one batch after another), so a row committed later has a later
      `_loaded_at` (the time its batch's transaction began) and none is passed over;
    - the customer-days (`int_subscriber_days_aggregated_to_customers`) read on from the rows of
      staging their last run read (`read_through` in their record: the latest `_loaded_at` of each
      model in `meta.merge_window_reads`, written by `merge_window_record()`): every row of the days
      staged since (found through staging's BRIN index on `_loaded_at`), and the days of the numbers
      whose subscriptions landed since, from the first day their owner may differ, at any age. Each
      row it inserts or changes is stamped with the invocation's start (`_merged_at`,
      `merge_window_stamp()`); a re-merged row that did not change keeps its stamp. Their record is
      their own: a build that fails after staging moved on leaves it behind, and the next build
      reads on from it;
    - the facts built from them (`fct_customer_experience_daily`) read the rows stamped after the
      invocation that last merged into the facts started (`stamped_through` in their record;
      `merge_window_stamped_rows`, through a BRIN index on `_merged_at`): the new day, a late
      file's day, a re-assigned number's days, and nothing else. Their record is the published
      table's (publish.begin carries it into the candidate), so what a failed or refused build
      merged is merged again by the next one, at any age;
    - the cell facts (`fct_network_cell_daily`) build again, from every hour staging holds of them,
      the days of the cell-hours staged after the rows their last run read (`read_through`, as the
      customer-days; `merge_window_staged_days()`). Their record travels with the published table
      like the customer-day facts';
    - a staging table without a `loaded_through` record, or customer-days or cell facts without
      `read_through` (built by an earlier telco-dw), fall back to the lookback rule once: the days
      from `incremental_lookback_days` before the latest day built (`merge_window_start`).

    These pieces share the window:

    - the strategy `merge_window`: records the window in the table's comment (`merged_since`: the
      first day merged, 'infinity' when nothing was; `date_column`; dbt's invocation id and start,
      `stamped_through`; for a model that reads raw, `loaded_through`, and the rows it merged:
      `loaded_after`, the `loaded_through` before, and `merged_days`, their days), then merges,
      reading only the window's days of the table (through the index below, instead of a read of
      the whole history);
    - `merge_window_record()`, a post-hook: the same record after a full build (`merged_since` null:
      every day), and `read_through` after every build;
    - `changed_since` in the same record: the first day at which the table differs from the copy of
      the published table that the build started from (telco_dw.warehouse.publish.begin sets it to
      'infinity' and writes the run in `since_run`; each merge, and `merge_window_delete`, lowers it;
      null after a full build: every day). The next build's `begin` brings the candidate's copy up to
      the published table by those days instead of copying the whole history;
    - `merge_window_index()`, a post-hook: the index on the window's column;
    - `get_where_subquery`, dbt's hook for a data test's `where` config: `__merged__` there
      becomes `<column> >= <first day>` when the table records a window of this very invocation, so
      the tests of an incremental run check the days it merged; after a full build, or in a `dbt test`
      of its own, the tests read the whole table. Any other `where` is applied as dbt applies it.
-#}

{#- The window recorded in `relation`'s comment (a dict), or none. -#}
{% macro merge_window_recorded(relation) -%}
    {%- if not execute -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set found = run_query(
        "select obj_description(to_regclass('" ~ relation ~ "'), 'pg_class')"
    ) -%}
    {%- set comment = found.columns[0].values()[0] if found and found.rows | length > 0 else none -%}
    {%- if not comment or not comment.startswith('{') -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(fromjson(comment)) -%}
{%- endmacro %}

{#- SQL: whether `recorded` (a table's comment, text) is a record of this invocation. -#}
{% macro recorded_here(recorded) -%}
    (
        left({{ recorded }}, 1) = '{'
        and {{ recorded }}::jsonb ->> 'dbt_invocation_id' = {{ dbt.string_literal(invocation_id) }}
    )
{%- endmacro %}

{#- The lookback rule, as SQL read from the table before the run: its latest day minus
    incremental_lookback_days. -#}
{% macro merge_window_lookback(column) -%}
    (
        select coalesce(max(already_built.{{ column }}), '1900-01-01'::date) - {{ var('incremental_lookback_days') }}
        from {{ this }} as already_built
    )
{%- endmacro %}

{#- The first day of the window of an incremental model downstream of `upstream` (SQL): the
    lookback rule, or earlier where `upstream` merged older days in this invocation (a late file;
    every day after its full build). The lookback stays the floor: staging's record moves on when
    staging is built, while a build that failed or was refused after it leaves these models behind
    (the candidate restarts from the published facts), and the lookback merges those days again. -#}
{% macro merge_window_start(column, upstream=none) -%}
    {%- set recorded = merge_window_recorded(upstream) if upstream is not none else none -%}
    {%- if recorded and recorded.get('dbt_invocation_id') == invocation_id -%}
        least(
            {{ "'-infinity'::date" if recorded.get('merged_since') is none else "'" ~ recorded['merged_since'] ~ "'::date" }},
            {{ merge_window_lookback(column) }}
        )
    {%- else -%}
        {{ merge_window_lookback(column) }}
    {%- endif -%}
{%- endmacro %}

{#- The raw rows an incremental staging model reads (a condition on the raw table): those landed
    after the rows its last run read (`_loaded_at` above the table's `loaded_through`, through the raw
    table's BRIN index on `_loaded_at`), else `fallback` (the lookback rule on the raw table's time
    column). -#}
{% macro merge_window_new_rows(fallback) -%}
    {%- set recorded = merge_window_recorded(this) -%}
    {%- if recorded and recorded.get('loaded_through') -%}
        _loaded_at > '{{ recorded['loaded_through'] }}'::timestamptz
    {%- elif recorded and 'loaded_through' in recorded -%}
        true
    {%- else -%}
        {{ fallback }}
    {%- endif -%}
{%- endmacro %}

{#- When this dbt invocation started (UTC, as SQL text): the stamp of the rows it merges and the
    `stamped_through` of the tables it merges into. -#}
{% macro merge_window_now() -%}
    {{- return(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ '+00') -}}
{%- endmacro %}

{#- A model's `_merged_at` column (SQL): when the row was last written with these values. The strategy
    leaves it out of its comparison, so a re-merged row that did not change keeps its stamp. -#}
{% macro merge_window_stamp() -%}
    {{- return("'" ~ merge_window_now() ~ "'::timestamptz") -}}
{%- endmacro %}

{#- The upstream rows an incremental model reads (a condition): those its upstream stamped
    (`column`, an upstream's `_merged_at`) after the invocation that last merged into this table
    started (`stamped_through` in its record), else `fallback`. -#}
{% macro merge_window_stamped_rows(column, fallback) -%}
    {%- set recorded = merge_window_recorded(this) -%}
    {%- if recorded and recorded.get('stamped_through') -%}
        {{- return(column ~ " > '" ~ recorded['stamped_through'] ~ "'::timestamptz") -}}
    {%- endif -%}
    {{- return(fallback) -}}
{%- endmacro %}

{#- A post-hook: a BRIN index on `column`, a time that grows with the rows written (`_merged_at`,
    `_loaded_at`), through which readers find the newest rows (they are written at the end of the
    table) without reading the rest. -#}
{% macro merge_window_brin_index(column) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {{ table_index(this.identifier ~ '_' ~ column, adapter.quote(column), method='brin') }}
{%- endmacro %}

{#- dbt's custom incremental strategy `merge_window` (config `incremental_strategy: merge_window`,
    `meta: {merge_window_column: <date column>}`, a `unique_key`): records the window in the table's
    comment, then merges on the key, reading only the window's days of the table (from the first day
    of the new rows: a key holds its day, so a row can only match a row of a day it has) and
    rewriting only the rows that changed (a re-merged day is mostly the same rows). Rows of the
    window that the new data lacks stay, as with dbt's `merge`. -#}
{% macro get_incremental_merge_window_sql(arg_dict) -%}
    {%- set column = config.get('meta', {}).get('merge_window_column') -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- if not column or not key or key is not string -%}
        {{ exceptions.raise_compiler_error("incremental_strategy merge_window needs meta.merge_window_column (the date column of the window) and one unique_key column: " ~ this) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for dest_column in arg_dict['dest_columns'] -%}
        {%- do quoted.append(adapter.quote(dest_column.name)) -%}
    {%- endfor -%}
    {#- the stamp of the rows a merge writes (`merge_window_stamp()`) is not a change of its own -#}
    {%- set compared = quoted | reject('equalto', '"_merged_at"') | list -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {#- the first day of the new rows, as a literal (the new rows are in their temporary table by
        now): the planner reads the table's days from it through the index, where for a subquery's
        value it assumed a third of the table and read all of it (a million rows merged into 30M took
        22 s instead of about one) -#}
    {%- set found = run_query("select min(" ~ adapter.quote(column) ~ ")::text from " ~ new_rows) -%}
    {%- set first_value = found.columns[0].values()[0] if found and found.rows | length > 0 else none -%}
    {%- set first_day = "'" ~ first_value ~ "'::date" if first_value else "null::date" -%}
    {%- set recorded = merge_window_recorded(this) or {} -%}
    do $merge_window$ begin
        execute format('comment on table %s is %L', {{ dbt.string_literal(this | string) }}, {{ "'" ~ (tojson(recorded) | replace("'", "''")) ~ "'" }}::jsonb || jsonb_build_object(
            'merged_since', coalesce({{ first_day }}::text, 'infinity'),
            'date_column', {{ dbt.string_literal(column) }},
            'dbt_invocation_id', {{ dbt.string_literal(invocation_id) }},
            'stamped_through', {{ dbt.string_literal(merge_window_now()) }},
            'changed_since', {{ "least(" ~ dbt.string_literal(recorded['changed_since']) ~ "::date, " ~ first_day ~ ")::text" if recorded.get('changed_since') else 'null::text' }}
            {%- if '"_loaded_at"' in quoted %},
            'loaded_through', greatest(
                {{ dbt.string_literal(recorded['loaded_through']) ~ '::timestamptz' if recorded.get('loaded_through') else 'null::timestamptz' }},
                (select max(new_rows._loaded_at) from {{ new_rows }} as new_rows)
            ),
            'loaded_after', {{ dbt.string_literal(recorded['loaded_through']) if recorded.get('loaded_through') else 'null::text' }},
            'merged_days', coalesce(
                (select jsonb_agg(distinct new_rows.{{ adapter.quote(column) }}::text order by new_rows.{{ adapter.quote(column) }}::text) from {{ new_rows }} as new_rows),
                '[]'::jsonb
            )
            {%- endif %}
        ));
    end $merge_window$;
    merge into {{ arg_dict['target_relation'] }} as DBT_INTERNAL_DEST
    using {{ new_rows }} as DBT_INTERNAL_SOURCE
        on
            DBT_INTERNAL_DEST.{{ adapter.quote(column) }} >= {{ first_day }}
            and DBT_INTERNAL_DEST.{{ adapter.quote(key) }} = DBT_INTERNAL_SOURCE.{{ adapter.quote(key) }}
    {%- for predicate in arg_dict['incremental_predicates'] or [] %}
            and ({{ predicate }})
    {%- endfor %}
    when matched and (DBT_INTERNAL_DEST.{{ compared | join(', DBT_INTERNAL_DEST.') }}) is distinct from (DBT_INTERNAL_SOURCE.{{ compared | join(', DBT_INTERNAL_SOURCE.') }}) then
        update set {% for name in quoted %}{{ name }} = DBT_INTERNAL_SOURCE.{{ name }}{{ ', ' if not loop.last }}{% endfor %}
    when not matched then
        insert ({{ quoted | join(', ') }})
        values (DBT_INTERNAL_SOURCE.{{ quoted | join(', DBT_INTERNAL_SOURCE.') }})
{%- endmacro %}

{#- A post-hook of every build of these models: after a full build (the table's comment records no
    merge of this invocation), the record of one: `merged_since` null (every day is new), and for a
    model that reads raw, `loaded_through`, the latest `_loaded_at` it holds. After every build of a
    model with `meta.merge_window_reads` (upstream models with `_loaded_at`), `read_through`: the
    latest `_loaded_at` of each that this build has read, where the next run reads on from. -#}
{% macro merge_window_record() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set column = config.get('meta', {}).get('merge_window_column') -%}
    {%- set reads = config.get('meta', {}).get('merge_window_reads') or [] -%}
    {%- set relation = dbt.string_literal(this | string) -%}
    do $merge_window$
    declare
        recorded text := obj_description({{ relation }}::regclass, 'pg_class');
        window_record jsonb := jsonb_build_object(
            'merged_since', null,
            'changed_since', null,
            'date_column', {{ dbt.string_literal(column) }},
            'dbt_invocation_id', {{ dbt.string_literal(invocation_id) }},
            'stamped_through', {{ dbt.string_literal(merge_window_now()) }}
        );
        loaded timestamptz;
    begin
        if {{ recorded_here('recorded') }} then
            window_record := recorded::jsonb;  -- merged by this invocation: the strategy recorded the window
        elsif exists (
            select from pg_attribute
            where attrelid = {{ relation }}::regclass and attname = '_loaded_at' and not attisdropped
        ) then
            execute 'select max(_loaded_at) from {{ this }}' into loaded;
            window_record := window_record || jsonb_build_object('loaded_through', loaded);
        end if;
        {%- if reads %}
        window_record := window_record || jsonb_build_object('read_through', jsonb_build_object(
            {%- for name in reads %}
            {{ dbt.string_literal(name) }}, {{ merge_window_loaded_through(ref(name)) }}{{ ',' if not loop.last }}
            {%- endfor %}
        ));
        {%- endif %}
        execute format('comment on table %s is %L', {{ relation }}, window_record);
    end $merge_window$
{%- endmacro %}

{#- The latest `_loaded_at` an upstream model holds (SQL): the `loaded_through` it records (an
    incremental staging model, whose history is too long to read for it), else its `max(_loaded_at)`. -#}
{% macro merge_window_loaded_through(upstream) -%}
    {%- set recorded = merge_window_recorded(upstream) or {} -%}
    {%- if recorded.get('loaded_through') -%}
        {{- dbt.string_literal(recorded['loaded_through']) }}::timestamptz
    {%- else -%}
        (select max(upstream._loaded_at) from {{ upstream }} as upstream)
    {%- endif -%}
{%- endmacro %}

{#- The latest `_loaded_at` of `upstream` (a model named in `meta.merge_window_reads`) that this table
    recorded having read, or none (no record: a full build of an earlier telco-dw). -#}
{% macro merge_window_read_through(upstream) -%}
    {%- set recorded = merge_window_recorded(this) or {} -%}
    {%- do return((recorded.get('read_through') or {}).get(upstream)) -%}
{%- endmacro %}

{#- The days (`column`) of the rows of `upstream`, a staging model merged by window, landed after
    `read_through` (the latest `_loaded_at` of it this table recorded having read), as an SQL array
    literal (`'{...}'::date[]`): read through the index on the day, where with the days as a
    subquery the planner read every staged day to match them (30M rows at 1M customers). When
    staging's last merge read the rows landed after exactly those (its `loaded_after` is
    `read_through`), its record names their days (`merged_days`), in this build or an earlier one;
    else they are found through staging's BRIN index on `_loaded_at` (2-6 s for the subscriber-days
    at 1M customers: a merge puts rows wherever the table has room, so the index finds them among
    three times as many). -#}
{% macro merge_window_staged_days(upstream, column, read_through) -%}
    {%- set staging = merge_window_recorded(upstream) or {} -%}
    {%- set found = none -%}
    {%- if staging.get('loaded_after') and staging.get('merged_days') is not none -%}
        {%- set same = run_query(
            "select '" ~ staging['loaded_after'] ~ "'::timestamptz = '" ~ read_through ~ "'::timestamptz"
        ) -%}
        {%- set found = staging['merged_days'] if same.columns[0].values()[0] else none -%}
    {%- endif -%}
    {%- if found is none -%}
        {%- set found = run_query(
            "select distinct " ~ adapter.quote(column) ~ "::text from " ~ upstream
            ~ " where _loaded_at > '" ~ read_through ~ "'::timestamptz order by 1"
        ).columns[0].values() -%}
    {%- endif -%}
    {{- return("'{" ~ (found | join(',')) ~ "}'::date[]") -}}
{%- endmacro %}

{#- A post-hook deleting the rows of the table that match `condition` (SQL on the alias `kept`), at
    any day: the first day it deleted from lowers `changed_since`, so the copy of the published table
    that the next build starts from is brought up to it (telco_dw.warehouse.publish.begin). With
    `unless_empty` (a query), nothing is read or deleted when that query returns no row. -#}
{% macro merge_window_delete(condition, unless_empty=none) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set column = adapter.quote(config.get('meta', {}).get('merge_window_column')) -%}
    {%- set relation = dbt.string_literal(this | string) -%}
    do $merge_window$
    declare
        recorded text := obj_description({{ relation }}::regclass, 'pg_class');
        first_deleted date;
    begin
        {%- if unless_empty %}
        if not exists ({{ unless_empty }}) then
            return;
        end if;
        {%- endif %}
        with deleted as (
            delete from {{ this }} as kept where {{ condition }} returning kept.{{ column }}
        )
        select min(deleted.{{ column }}) into first_deleted from deleted;
        if first_deleted is not null and left(recorded, 1) = '{' and recorded::jsonb ->> 'changed_since' is not null then
            execute format('comment on table %s is %L', {{ relation }}, recorded::jsonb || jsonb_build_object(
                'changed_since', least((recorded::jsonb ->> 'changed_since')::date, first_deleted)::text
            ));
        end if;
    end $merge_window$
{%- endmacro %}

{#- The index the window is read through, on `meta.merge_window_column`: a post-hook of every build
    of these models (a no-op once it exists), so a table built before it, or copied without it, gets
    it at its next run. -#}
{% macro merge_window_index() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set column = config.get('meta', {}).get('merge_window_column') -%}
    {{ table_index(this.identifier ~ '__merge_window', adapter.quote(column)) }}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- if (model.get('test_metadata') or {}).get('name') == 'unique_by_index' -%}
        {#- it reads the table's indexes in the catalogue, not its rows: no window applies -#}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__merged__' in where -%}
        {%- set where = where | replace('__merged__', merged_filter(relation)) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- What `relation` records this invocation merged into it: `<column> >= '<first day>'` for a merge
    window, `_loaded_at > '<latest before>'` for a model merged by key (`landed_since_record()`,
    macros/latest_version.sql); `true` when this invocation built it in full or did not build it. -#}
{% macro merged_filter(relation) -%}
    {%- set recorded = merge_window_recorded(relation) -%}
    {%- if not recorded or recorded.get('dbt_invocation_id') != invocation_id -%}
        {%- do return('true') -%}
    {%- elif recorded.get('merged_since') -%}
        {%- do return(adapter.quote(recorded['date_column']) ~ " >= '" ~ recorded['merged_since'] ~ "'::date") -%}
    {%- elif recorded.get('landed_after') -%}
        {%- do return("_loaded_at > '" ~ recorded['landed_after'] ~ "'::timestamptz") -%}
    {%- endif -%}
    {%- do return('true') -%}
{%- endmacro %}

{#- Every layer's post-hook: planner statistics for the table just written. A table built in full is
    analysed (`create table as` leaves it without statistics until autovacuum gets to it). An
    incremental table kept from an earlier build (it holds that build's record, or this run's merge
    wrote one: `merged_since`, `landed_after`) is not: a merge changes the latest days or loads of a
    long history, an append the rows of the changed customers, the planner finds a value past the
    end of the statistics through the index on the window's column (`merge_window_index()`;
    `key_merged_indexes()`), and autovacuum analyses the table once a tenth of it has changed.
    Until 2026-12-05 the tables appended to (`int_customer_months_billed`,
    `int_billing_aggregated_to_customers`) were analysed on every run. An analyze samples 30,000 rows at any size: 0.2-1 s each at 100k customers,
    more at 1M, for the few days a daily run merges. -#}
{% macro analyze_built() -%}
    {%- if config.get('materialized') != 'incremental' or not execute -%}
        analyze {{ this }}
    {%- else -%}
        do $analyze_built$
        declare
            recorded text := obj_description({{ dbt.string_literal(this | string) }}::regclass, 'pg_class');
        begin
            if left(recorded, 1) = '{' then
                -- a table kept from an earlier build (its record was written then, or by this run's
                -- merge): rows were merged or appended, not built in full
                return;
            end if;
            analyze {{ this }};
        end $analyze_built$
    {%- endif -%}
{%- endmacro %}

{#-
    The daily facts of a growing history (the network models) are incremental: a run merges the days
    from `incremental_lookback_days` before the latest day built (late and redelivered files), and
    the older days stay as they are. These pieces share that window:

    - `merge_window_start(column)`: the window's first day, as SQL read from the table before the run
      (its latest day minus the lookback). The model filters its input with it, and the merge reads
      only those days of the table (through the index below, instead of a read of the whole
      history);
    - the strategy `merge_window`: writes that first day and dbt's invocation id in the table's
      comment, then merges;
    - `merge_window_index()`, a post-hook: the index on the window's column;
    - `get_where_subquery`, dbt's hook for a data test's `where` config: `__merged_days__` there
      becomes `<column> >= <first day>` when the table records a window of this very invocation, so
      the tests of an incremental run check the days it merged; after a full build, or in a `dbt test`
      of its own, the tests read the whole table. Any other `where` is applied as dbt applies it.
-#}

{% macro merge_window_start(column) -%}
    (
        select coalesce(max(already_built.{{ column }}), '1900-01-01'::date) - {{ var('incremental_lookback_days') }}
        from {{ this }} as already_built
    )
{%- endmacro %}

{#- dbt's custom incremental strategy `merge_window` (config `incremental_strategy: merge_window`,
    `meta: {merge_window_column: <date column>}`, a `unique_key`): records the window in the table's
    comment, then merges on the key, reading only the window's days of the table and rewriting only
    the rows that changed (a re-merged day is mostly the same rows). Rows of the window that the new
    data lacks stay, as with dbt's `merge`. -#}
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
    do $merge_window$ begin
        execute format('comment on table %s is %L', {{ dbt.string_literal(this | string) }}, json_build_object(
            'merged_since', {{ merge_window_start(column) }},
            'date_column', {{ dbt.string_literal(column) }},
            'dbt_invocation_id', {{ dbt.string_literal(invocation_id) }}
        )::text);
    end $merge_window$;
    merge into {{ arg_dict['target_relation'] }} as DBT_INTERNAL_DEST
    using {{ arg_dict['temp_relation'] }} as DBT_INTERNAL_SOURCE
        on
            DBT_INTERNAL_DEST.{{ adapter.quote(column) }} >= {{ merge_window_start(column) }}
            and DBT_INTERNAL_DEST.{{ adapter.quote(key) }} = DBT_INTERNAL_SOURCE.{{ adapter.quote(key) }}
    {%- for predicate in arg_dict['incremental_predicates'] or [] %}
            and ({{ predicate }})
    {%- endfor %}
    when matched and (DBT_INTERNAL_DEST.{{ quoted | join(', DBT_INTERNAL_DEST.') }}) is distinct from (DBT_INTERNAL_SOURCE.{{ quoted | join(', DBT_INTERNAL_SOURCE.') }}) then
        update set {% for name in quoted %}{{ name }} = DBT_INTERNAL_SOURCE.{{ name }}{{ ', ' if not loop.last }}{% endfor %}
    when not matched then
        insert ({{ quoted | join(', ') }})
        values (DBT_INTERNAL_SOURCE.{{ quoted | join(', DBT_INTERNAL_SOURCE.') }})
{%- endmacro %}

{#- The index the window is read through, on `meta.merge_window_column`: a post-hook of every build
    of these models (a no-op once it exists), so a table built before it, or copied without it, gets
    it at its next run. -#}
{% macro merge_window_index() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set column = config.get('meta', {}).get('merge_window_column') -%}
    create index if not exists {{ adapter.quote(this.identifier ~ '__merge_window') }}
        on {{ this }} ({{ adapter.quote(column) }})
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__merged_days__' in where -%}
        {%- set where = where | replace('__merged_days__', merged_days_filter(relation)) -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- `<column> >= '<first day>'` when `relation` records a merge window of this invocation, else `true`. -#}
{% macro merged_days_filter(relation) -%}
    {%- if not execute -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set found = run_query(
        "select obj_description(to_regclass('" ~ relation ~ "'), 'pg_class')"
    ) -%}
    {%- set comment = found.columns[0].values()[0] if found and found.rows | length > 0 else none -%}
    {%- if not comment or not comment.startswith('{') -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- set window = fromjson(comment) -%}
    {%- if window.get('dbt_invocation_id') != invocation_id or not window.get('merged_since') -%}
        {%- do return('true') -%}
    {%- endif -%}
    {%- do return(adapter.quote(window['date_column']) ~ " >= '" ~ window['merged_since'] ~ "'::date") -%}
{%- endmacro %}

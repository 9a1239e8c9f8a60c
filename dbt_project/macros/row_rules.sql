{#-
    Row rules as constraints. A model rebuilt in full on every run declares the rules each of its
    rows must keep (not null, accepted values, ranges) as dbt `constraints` on its columns instead of
    `not_null` / `accepted_values` / `in_range` data tests: each such test read the whole table again
    (at 1M customers, 30 tests of `dim_customers` took 14 node-seconds of every run), while
    PostgreSQL checks every rule of one `alter table` in a single pass over the new rows (about 1 s).

    `row_rules()`, a post-hook of every layer: one `alter table` adding the model's declared
    constraints (`not_null`: `set not null`; `check`: its expression) to the table just built. It
    runs in the build's transaction, after the new table has replaced the old: a row that breaks a
    rule fails the model with PostgreSQL's message (`column "x" ... contains null values`, `check
    constraint "<table>_<column>_check" ... is violated by some row`; named by the model's
    table, not PostgreSQL's choice, which avoids the name the table replaced still holds), the transaction rolls back to
    the table as it was, and what reads the model is skipped (the candidate is not published).

    An incremental model built by deleting and appending rows (the customer-months,
    macros/customer_months.sql) or merged by key (the survey answers, macros/latest_version.sql)
    keeps its table, and its constraints with it: the post-hook adds those the table lacks (on its
    first build, or after a change of its rules: a pass over the table once), and PostgreSQL checks
    every row a later run appends or merges. The other models merged by `merge` (the network facts,
    the rest of the staging merged by key) declare none.

    Not dbt's model contract: an enforced contract creates the table, then inserts the rows, which
    PostgreSQL cannot plan in parallel (at 1M, `dim_customers` took 13 s instead of 8 s). Keys stay
    `unique` (`unique_by_index` where a unique index holds them) + `not_null` data tests (the
    project's convention), and so do relationships.
-#}
{% macro row_rules() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {#- each rule: the clause of its `alter table`, and what names it in the catalogue (a column's not
        null, a constraint's name) -#}
    {%- set rules = [] -%}
    {%- for column in model.columns.values() -%}
        {%- set checks = namespace(count=0) -%}
        {%- for constraint in column.constraints or [] -%}
            {%- if constraint.type == 'not_null' -%}
                {%- do rules.append({'kind': 'not_null', 'name': column.name,
                    'sql': 'alter column ' ~ adapter.quote(column.name) ~ ' set not null'}) -%}
            {%- elif constraint.type == 'check' and constraint.expression -%}
                {%- set checks.count = checks.count + 1 -%}
                {%- set name = this.identifier ~ '_' ~ column.name ~ '_check' ~ (checks.count if checks.count > 1 else '') -%}
                {%- do rules.append({'kind': 'check', 'name': name,
                    'sql': 'add constraint ' ~ adapter.quote(name) ~ ' check (' ~ constraint.expression ~ ')'}) -%}
            {%- else -%}
                {%- do exceptions.raise_compiler_error(
                    this.identifier ~ '.' ~ column.name ~ ': row_rules() applies not_null and check constraints, not '
                    ~ constraint.type
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not rules -%}
        {{ return('') }}
    {%- endif -%}
    {%- if config.get('materialized') == 'table' -%}
        alter table {{ this }} {{ rules | map(attribute='sql') | join(', ') }}
    {%- elif config.get('materialized') == 'incremental' and config.get('incremental_strategy') in ('append', 'merge') -%}
        {%- set relation = dbt.string_literal(this | string) -%}
        do $row_rules$
        declare
            missing text;
        begin
            -- the rules the kept table lacks, in one alter table (one pass over the table)
            select string_agg(rules.sql, ', ') into missing
            from (values
                {%- for rule in rules %}
                ('{{ rule.kind }}', '{{ rule.name }}', '{{ rule.sql | replace("'", "''") }}'){{ ',' if not loop.last }}
                {%- endfor %}
            ) as rules (kind, name, sql)
            where
                (rules.kind = 'not_null' and not exists (
                    select from pg_attribute
                    where attrelid = {{ relation }}::regclass and attname = rules.name and attnotnull
                ))
                or (rules.kind = 'check' and not exists (
                    select from pg_constraint where conrelid = {{ relation }}::regclass and conname = rules.name
                ));
            if missing is not null then
                execute 'alter table ' || {{ relation }} || ' ' || missing;
            end if;
        end $row_rules$
    {%- else -%}
        {%- do exceptions.raise_compiler_error(
            this.identifier ~ ' is ' ~ config.get('materialized') ~ ' (' ~ config.get('incremental_strategy')
            ~ '): row_rules() checks tables rebuilt in full, appended to or merged by key'
        ) -%}
    {%- endif -%}
{%- endmacro %}

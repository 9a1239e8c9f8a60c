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

    Not dbt's model contract: an enforced contract creates the table, then inserts the rows, which
    PostgreSQL cannot plan in parallel (at 1M, `dim_customers` took 13 s instead of 8 s). Keys stay
    `unique` + `not_null` data tests (the project's convention), and so do relationships. A model
    merged incrementally has no table of its own each run to check: a constraint declared on one
    is an error.
-#}
{% macro row_rules() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rules = [] -%}
    {%- for column in model.columns.values() -%}
        {%- set checks = namespace(count=0) -%}
        {%- for constraint in column.constraints or [] -%}
            {%- if constraint.type == 'not_null' -%}
                {%- do rules.append('alter column ' ~ adapter.quote(column.name) ~ ' set not null') -%}
            {%- elif constraint.type == 'check' and constraint.expression -%}
                {%- set checks.count = checks.count + 1 -%}
                {%- set name = this.identifier ~ '_' ~ column.name ~ '_check' ~ (checks.count if checks.count > 1 else '') -%}
                {%- do rules.append('add constraint ' ~ adapter.quote(name) ~ ' check (' ~ constraint.expression ~ ')') -%}
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
    {%- if config.get('materialized') != 'table' -%}
        {%- do exceptions.raise_compiler_error(
            this.identifier ~ ' is ' ~ config.get('materialized') ~ ': row_rules() checks tables rebuilt in full'
        ) -%}
    {%- endif -%}
    alter table {{ this }} {{ rules | join(', ') }}
{%- endmacro %}

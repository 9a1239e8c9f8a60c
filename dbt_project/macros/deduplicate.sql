{#-
    The rows of `relation` that come first in their `partition_by` group by `order_by`: one row per
    key. Used as the whole body of a CTE: `latest as ({{ deduplicate('source', 'id', 'updated_at desc') }})`.
-#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('deduplicate', 'telco_dw')(relation, partition_by, order_by)) }}
{%- endmacro %}

{#- Portable form; adds a `_version_rank` column that callers do not select. -#}
{% macro default__deduplicate(relation, partition_by, order_by) -%}
    select *
    from (
        select
            versions.*,
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _version_rank
        from {{ relation }} as versions
    ) as ranked
    where _version_rank = 1
{%- endmacro %}

{#-
    PostgreSQL: `distinct on`. Besides being one sort instead of a sort and a window, the planner
    estimates its output from the key's distinct count; it estimates `row_number() ... = 1` at 0.5 %
    of the rows, which made it choose nested loops over every downstream join (quadratic time).
-#}
{% macro postgres__deduplicate(relation, partition_by, order_by) -%}
    select distinct on ({{ partition_by }}) *
    from {{ relation }}
    order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

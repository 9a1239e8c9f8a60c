{#- The masking rules of the PII catalogue (docs/privacy.md), one macro per rule, adapter-dispatched.
    Staging applies them with `pii()`, which reads a raw column's rule from its sources YAML `meta`,
    so the catalogue alone decides how each personal column leaves raw. The token key never appears
    here: `privacy.token` holds it in the warehouse. -#}

{% macro pii(source_name, table_name, column_name, expression=none) -%}
    {%- set rule = pii_rule(source_name, table_name, column_name) -%}
    {{ mask(rule, expression or column_name) }}
{%- endmacro %}

{% macro pii_rule(source_name, table_name, column_name) -%}
    {%- if not execute -%}
        {{ return('token') }}
    {%- endif -%}
    {%- for node in graph.sources.values() if node.source_name == source_name and node.name == table_name -%}
        {%- set column = node.columns.get(column_name) -%}
        {%- set meta = (column.config.meta if column and column.config and column.config.meta else column.meta) if column else {} -%}
        {%- if not meta.get('personal') -%}
            {{ exceptions.raise_compiler_error(source_name ~ "." ~ table_name ~ "." ~ column_name ~ " is not declared personal in the PII catalogue: declare it (docs/privacy.md) or select it plainly") }}
        {%- endif -%}
        {{ return(meta.get('masking')) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source " ~ source_name ~ "." ~ table_name ~ " declares " ~ column_name) }}
{%- endmacro %}

{% macro mask(rule, column) -%}
    {%- set rules = {
        'token': pii_token, 'scrub': scrub_free_text, 'mask_name': mask_name, 'mask_mobile': mask_mobile,
        'mask_id_card': mask_id_card, 'mask_email': mask_email, 'mask_bank_card': mask_bank_card,
        'age_band': age_band,
    } -%}
    {%- if rule not in rules -%}
        {{ exceptions.raise_compiler_error("masking rule '" ~ rule ~ "' is applied by a model, not per value (generalisation or drop): see docs/privacy.md") }}
    {%- endif -%}
    {{ rules[rule](column) }}
{%- endmacro %}

{% macro pii_token(column) -%}
    {{ adapter.dispatch('pii_token', 'telco_dw')(column) }}
{%- endmacro %}

{% macro default__pii_token(column) -%}
    privacy.token({{ column }})
{%- endmacro %}

{#- The batch form of `pii()` for a column whose rule is `token`: a relation of (`value`, `token`)
    rows, one per element of `values` (SQL, an array of the values, already normalised), from
    `privacy.tokens`, which reads the key once instead of once per value (at 1M numbers a day, 1.5 s
    instead of 4). -#}
{% macro pii_tokens(source_name, table_name, column_name, values) -%}
    {%- set rule = pii_rule(source_name, table_name, column_name) -%}
    {%- if rule != 'token' -%}
        {{ exceptions.raise_compiler_error(source_name ~ "." ~ table_name ~ "." ~ column_name ~ " is masked by '" ~ rule ~ "', not tokenised: pii_tokens() only tokenises") }}
    {%- endif -%}
    {{ adapter.dispatch('pii_tokens', 'telco_dw')(values) }}
{%- endmacro %}

{% macro default__pii_tokens(values) -%}
    privacy.tokens({{ values }})
{%- endmacro %}

{% macro scrub_free_text(column) -%}
    {{ adapter.dispatch('scrub_free_text', 'telco_dw')(column) }}
{%- endmacro %}

{% macro default__scrub_free_text(column) -%}
    privacy.scrub({{ column }})
{%- endmacro %}

{% macro mask_name(column) -%}
    {{ adapter.dispatch('mask_name', 'telco_dw')(column) }}
{%- endmacro %}

{#- 张伟 -> 张*: the surname and one star, whatever the length (a star per character would tell it). -#}
{% macro default__mask_name(column) -%}
    case when nullif(btrim({{ column }}), '') is not null then left(btrim({{ column }}), 1) || '*' end
{%- endmacro %}

{% macro mask_mobile(column) -%}
    {{ adapter.dispatch('mask_mobile', 'telco_dw')(column) }}
{%- endmacro %}

{#- +86 138-1234-5678 -> 138****5678 -#}
{% macro default__mask_mobile(column) -%}
    case when {{ column }} is not null then
        left(right(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 11), 3) || '****'
        || right(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 4)
    end
{%- endmacro %}

{% macro mask_id_card(column) -%}
    {{ adapter.dispatch('mask_id_card', 'telco_dw')(column) }}
{%- endmacro %}

{#- first 6 (the issuing area) + 8 stars + last 4 -#}
{% macro default__mask_id_card(column) -%}
    case when {{ column }} is not null then left({{ column }}, 6) || '********' || right({{ column }}, 4) end
{%- endmacro %}

{% macro mask_email(column) -%}
    {{ adapter.dispatch('mask_email', 'telco_dw')(column) }}
{%- endmacro %}

{#- zhang.wei@163.com -> z****@163.com -#}
{% macro default__mask_email(column) -%}
    case when position('@' in {{ column }}) > 1 then
        left({{ column }}, 1) || '****' || substring({{ column }} from '@.*$')
    end
{%- endmacro %}

{% macro mask_bank_card(column) -%}
    {{ adapter.dispatch('mask_bank_card', 'telco_dw')(column) }}
{%- endmacro %}

{#- the last 4 digits only -#}
{% macro default__mask_bank_card(column) -%}
    case when {{ column }} is not null then '****' || right(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 4) end
{%- endmacro %}

{#- The condition of a post-hook that follows what privacy nulled in raw in place (erasure,
    retention; `ddl.NULLED_IN_PLACE`, whose partial index on those rows the planner reads): a row of
    this table (`staged`) whose landed row (`landed`, the raw table, by `_batch_id` and
    `_row_number`) has `column` nulled since, which an incremental run reading only the rows landed
    since would not see. The staged subscriber-days drop such a day; the staged subscriptions null
    such a version's token. -#}
{% macro nulled_in_raw(column) -%}
    landed.{{ column }} is null
    and landed._batch_id = staged._batch_id
    and landed._row_number = staged._row_number
{%- endmacro %}

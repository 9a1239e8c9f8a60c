{#- Use a model's custom schema as-is (`marts`, not `public_marts`): BI tools and grants name it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ adapter.dispatch('generate_schema_name', 'telco_dw')(custom_schema_name, node) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{#- NPS category of a 0-10 "how likely to recommend" score (DOMAIN.md: 6 is a detractor). -#}
{% macro nps_category(score) -%}
    {{ adapter.dispatch('nps_category', 'telco_dw')(score) }}
{%- endmacro %}

{% macro default__nps_category(score) -%}
    case
        when {{ score }} is null then null
        when {{ score }} >= {{ var('nps_promoter_min') }} then 'promoter'
        when {{ score }} >= {{ var('nps_passive_min') }} then 'passive'
        else 'detractor'
    end
{%- endmacro %}

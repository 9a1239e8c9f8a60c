{#-
    Network experience score (0-100) of a quality bin (macro rsrp_quality_bin): excellent 100, good
    75, fair 50, poor 25, very poor 0. Averaged over days, it is the customer's experience score.
-#}
{% macro experience_score(quality_bin) -%}
    {{ return(adapter.dispatch('experience_score', 'telco_dw')(quality_bin)) }}
{%- endmacro %}

{% macro default__experience_score(quality_bin) -%}
    case {{ quality_bin }}
        when 'excellent' then 100
        when 'good' then 75
        when 'fair' then 50
        when 'poor' then 25
        when 'very poor' then 0
    end
{%- endmacro %}

{#-
    DOMAIN.md field-test quality bin of an RSRP (dBm): excellent above -85, good above -95, fair above
    -105, poor from -105 down to -115, very poor below -115. DOMAIN.md's ranges share their ends; the
    rule "poor coverage = RSRP <= -105" puts -105 in poor, and each shared end goes to the lower bin the
    same way (-85 good, -95 fair), except -115, which DOMAIN.md's "very poor < -115" keeps in poor.
-#}
{% macro rsrp_quality_bin(rsrp) -%}
    {{ return(adapter.dispatch('rsrp_quality_bin', 'telco_dw')(rsrp)) }}
{%- endmacro %}

{% macro default__rsrp_quality_bin(rsrp) -%}
    case
        when {{ rsrp }} is null then null
        when {{ rsrp }} > -85 then 'excellent'
        when {{ rsrp }} > -95 then 'good'
        when {{ rsrp }} > -105 then 'fair'
        when {{ rsrp }} >= -115 then 'poor'
        else 'very poor'
    end
{%- endmacro %}

{#-
    A keyed token of a personal join key (mobile number): HMAC-SHA256 (RFC 2104) of the normalised
    value, hex. Built from core PostgreSQL functions only (sha256, no pgcrypto). The key lives in the
    warehouse (relation of the var pii_token_key_relation, created by ensure_pii_token_key); compiled
    SQL names the relation, never the key, so no key reaches the repository, the compiled SQL or dbt's
    artifacts. The same key on both sides makes tokens of two sources joinable.
-#}
{% macro pii_token(value) -%}
    {{ return(adapter.dispatch('pii_token', 'telco_dw')(value)) }}
{%- endmacro %}

{% macro default__pii_token(value) -%}
    {%- set key = var('pii_token_key_relation') -%}
    {%- set normalised = "convert_to(" ~ telco_dw.normalise_mobile(value) ~ ", 'UTF8')" -%}
    case
        when {{ telco_dw.normalise_mobile(value) }} is not null then
            encode(
                sha256(
                    (select pii_key.outer_key from {{ key }} as pii_key)
                    || sha256((select pii_key.inner_key from {{ key }} as pii_key) || {{ normalised }})
                ),
                'hex'
            )
    end
{%- endmacro %}

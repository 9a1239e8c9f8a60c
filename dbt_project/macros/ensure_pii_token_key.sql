{#-
    on-run-start: create the token key relation (var pii_token_key_relation) with one random key if it
    has none. The key is 32 bytes from gen_random_uuid() (core PostgreSQL's strong random source),
    stored as its HMAC inner and outer pads (key xor 0x36, key xor 0x5c, 64 bytes each) so pii_token
    needs no bit arithmetic. Production inserts its own key, from its secret store, before the first
    build; an existing key is never replaced (every token would change). Only the transformer role may
    read the relation (grants come with the privacy layer).
-#}
{% macro ensure_pii_token_key() -%}
    {{ return(adapter.dispatch('ensure_pii_token_key', 'telco_dw')()) }}
{%- endmacro %}

{% macro default__ensure_pii_token_key() -%}
    {%- set key = var('pii_token_key_relation') -%}
    {%- set schema = key.split('.')[0] -%}
    -- concurrent runs (one dbt process per model under Cosmos) would race on the catalog: one at a
    -- time, until the hook's transaction ends
    select pg_advisory_xact_lock(hashtext('telco_dw.ensure_pii_token_key'));
    create schema if not exists {{ schema }};
    create table if not exists {{ key }} (
        key_id integer primary key default 1 check (key_id = 1),
        inner_key bytea not null check (length(inner_key) = 64),
        outer_key bytea not null check (length(outer_key) = 64),
        created_at timestamptz not null default now()
    );
    insert into {{ key }} (inner_key, outer_key)
    select
        decode(string_agg(lpad(to_hex(get_byte(padded.key_bytes, pos) # 54), 2, '0'), '' order by pos), 'hex'),
        decode(string_agg(lpad(to_hex(get_byte(padded.key_bytes, pos) # 92), 2, '0'), '' order by pos), 'hex')
    from (
        select
            decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') || repeat('00', 32), 'hex')
                as key_bytes
    ) as padded
    cross join generate_series(0, 63) as pos
    on conflict (key_id) do nothing
{%- endmacro %}

{% snapshot snap_crm__subscriptions %}
{{
    config(
        unique_key='subscription_id',
        strategy='timestamp',
        updated_at='updated_at',
        hard_deletes='ignore',
        post_hook=["{{ loaded_at_index() }}", "{{ unique_index('dbt_scd_id', 'key') }}"]
    )
}}
{#- The staged subscriptions landed since the latest version this snapshot holds (every one on the
    first build): a subscription staged earlier was read by an earlier run, and with the timestamp
    strategy and hard deletes ignored, a subscription the query leaves out is left as it is. Reading
    every subscription compared a million staged rows with their current versions each run (6.5 s at
    1M customers) to find the few thousand that changed. The latest `_loaded_at` it holds is read
    through an index (`loaded_at_index()`, a post-hook), not by a scan of every version (0.35 s).
    A unique index holds `dbt_scd_id` (`unique_index()`): the key's test checks it is there. -#}
select * from {{ ref('stg_crm__subscriptions') }}
where {{ landed_since_kept() }}
{% endsnapshot %}

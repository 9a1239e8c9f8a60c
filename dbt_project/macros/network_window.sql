{#-
    The customer 360's network window (`int_network_experience_aggregated_to_customers`: each
    customer's experience days in the trailing customer_window_days ending on the as-of day) slides
    instead of being summed again: the table keeps each customer's sums (counts of days, the sum of
    the scores), and a run adds the days that entered the window since the as-of day of the table's
    last build and takes away the days that left it. Every sum is a count or a sum of whole scores,
    so what slides equals what a full sum gives, exactly.

    A customer-day written since that build (`_merged_at` after the `stamped_through` it records: a
    late file's day, a number assigned again) may have been summed with other values: its customer
    is summed again whole, over the new window. The record (the table's comment, written by
    `network_window_record()`): `as_of_date`, the as-of day the sums end on, and `stamped_through`,
    the start of the invocation that built it (its customer-days were written by then).

    The window is summed whole (every customer) on a full build, on `--full-refresh`, when the table
    has no record (a first build, or one by an earlier telco-dw), when the as-of day moved back or
    by a whole window or more, and when more than network_window_resum_share of the customers
    would be summed again anyway (a full refresh of the customer-days re-stamps every day).
-#}

{#- The slide this run makes, read when the model is rendered: a dict (`from_date`, the as-of day of
    the table's last build; `to_date`, this run's; `stamped_through`; `changed`, how many customers
    are summed again), or none for a whole sum. Called by the model itself, so that a unit test can
    override it (none: the whole sum). -#}
{% macro network_window_slide() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = merge_window_recorded(this) or {} -%}
    {%- if not (recorded.get('as_of_date') and recorded.get('stamped_through')) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set days = var('customer_window_days') -%}
    {%- set from_date = "'" ~ recorded['as_of_date'] ~ "'::date" -%}
    {%- set found = run_query(
        "with as_of as (" ~ as_of_day() ~ ")"
        ~ " select as_of.as_of_date::text,"
        ~ " (select count(distinct written.customer_id) from " ~ ref('int_subscriber_days_aggregated_to_customers')
        ~ " as written where written._merged_at > '" ~ recorded['stamped_through'] ~ "'::timestamptz"
        ~ " and written.usage_date between " ~ from_date ~ " - " ~ (days - 1) ~ " and " ~ from_date ~ "),"
        ~ " (select count(*) from " ~ this ~ ")"
        ~ " from as_of"
    ) -%}
    {%- set to_date, changed, kept = found.rows[0][0], found.rows[0][1] | int, found.rows[0][2] | int -%}
    {%- if to_date is none or to_date < recorded['as_of_date']
        or modules.datetime.date.fromisoformat(to_date) - modules.datetime.date.fromisoformat(recorded['as_of_date'])
            >= modules.datetime.timedelta(days=days)
        or changed > (var('network_window_resum_share') | float) * kept -%}
        {{ log("network window of " ~ this ~ ": summed whole (as-of day " ~ recorded['as_of_date'] ~ " -> " ~ to_date
            ~ ", " ~ changed ~ " of " ~ kept ~ " customers with a day written since)", info=true) }}
        {{ return(none) }}
    {%- endif -%}
    {{ return({
        'from_date': recorded['as_of_date'],
        'to_date': to_date,
        'stamped_through': recorded['stamped_through'],
        'changed': changed,
    }) }}
{%- endmacro %}

{#- A post-hook: the table's record, for the next run's slide: the as-of day its sums end on and the
    start of this invocation (every customer-day it read was written by then). -#}
{% macro network_window_record() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    do $network_window$
    begin
        execute format('comment on table %s is %L', {{ dbt.string_literal(this | string) }}, jsonb_build_object(
            'as_of_date', ({{ as_of_day() }})::text,
            'stamped_through', {{ dbt.string_literal(merge_window_now()) }},
            'dbt_invocation_id', {{ dbt.string_literal(invocation_id) }}
        ));
    end $network_window$
{%- endmacro %}

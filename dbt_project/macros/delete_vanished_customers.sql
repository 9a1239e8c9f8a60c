{#-
    A post-hook of the customer-day facts: delete the days of customers the CRM no longer has (an
    erased or re-keyed customer), at any age, so no fact outlives its customer; the merge only adds
    and replaces days. `customers`: the CRM's customers of this build (stg_crm__customers).

    The facts a build extends are the published ones, published together with the customer 360 of
    their build (`published_schema`.dim_customers: one row per CRM customer of that build), and each
    build leaves no fact of a customer outside its CRM. So the customers who may have vanished are
    those of the published 360 that the CRM no longer has: two customer lists are compared, and the
    facts are read only when one did vanish (reading every fact to find none took 3-16 s at 1M
    customers). Without a published 360 (a warehouse whose marts were never published), every
    customer of the facts is looked up in the CRM instead.
-#}
{% macro delete_vanished_customers(customers) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set published = adapter.get_relation(
        database=this.database, schema=var('published_schema'), identifier='dim_customers'
    ) -%}
    {%- if published is none -%}
        {{ return(merge_window_delete(
            'not exists (select from ' ~ customers ~ ' as customers where customers.customer_id = kept.customer_id)'
        )) }}
    {%- endif -%}
    {%- set vanished = vanished_customers(customers) -%}
    {{ return(merge_window_delete('kept.customer_id in (' ~ vanished ~ ')', unless_empty=vanished)) }}
{%- endmacro %}

{#- The customers who may have vanished (a query of `customer_id`): those of the published customer
    360 that `customers` (the CRM's of this build) no longer has; without a published 360, those of
    this table. -#}
{% macro vanished_customers(customers) -%}
    {%- set published = adapter.get_relation(
        database=this.database, schema=var('published_schema'), identifier='dim_customers'
    ) -%}
    {%- set vanished -%}
        select published.customer_id from {{ published or this }} as published
        except
        select customers.customer_id from {{ customers }} as customers
    {%- endset -%}
    {{ return(vanished) }}
{%- endmacro %}

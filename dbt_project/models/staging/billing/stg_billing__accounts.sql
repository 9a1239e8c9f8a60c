with

source as (

    select * from {{ source('raw_billing', 'accounts') }}

),

latest as (

    {{ latest_version('source', 'account_id') }}

),

{#- every customer a version of the account named: an account moved to another customer keeps its
    former owners, whose customer-keyed rows a run builds again (macros/changed_customers.sql) -#}
owners as (

    select
        account_id,
        array_agg(distinct customer_id) filter (where customer_id is not null) as customer_ids
    from source
    group by account_id

),

renamed as (

    select
        latest.account_id,
        latest.customer_id,
        coalesce(array_remove(owners.customer_ids, latest.customer_id), '{}') as former_customer_ids,
        latest.pay_method,
        latest.opened_at,
        latest.updated_at,
        latest._loaded_at
    from latest
    inner join owners on latest.account_id = owners.account_id

)

select * from renamed

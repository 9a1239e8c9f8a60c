with

complaints as (

    select * from {{ ref('int_tickets_timed') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

-- Complaints of customers the CRM knows (tickets of unknown customers are orphans: staging warns).
final as (

    select complaints.*
    from complaints
    inner join customers
        on complaints.customer_id = customers.customer_id

)

select * from final

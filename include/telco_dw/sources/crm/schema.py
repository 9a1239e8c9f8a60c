"""Tables landed from the CRM API into ``raw_crm``.

Personal columns: name, birth date, ID card, mobile, email, address, MSISDN.
"""

from telco_dw.sources.schema import table

CUSTOMERS = table(
    "crm",
    "customers",
    "customer_id",
    ("customer_id", "text"),
    ("full_name", "text", True),
    ("gender", "text"),
    ("birth_date", "date", False, "<= current_date"),
    ("id_card_no", "text"),
    ("mobile", "text"),
    ("email", "text"),
    ("province", "text", True),
    ("city", "text", True),
    ("address", "text"),
    ("created_at", "timestamptz", True),
    ("updated_at", "timestamptz", True),
)

SUBSCRIPTIONS = table(
    "crm",
    "subscriptions",
    "subscription_id",
    ("subscription_id", "text"),
    ("customer_id", "text", True),
    ("msisdn", "text", True),
    ("plan_code", "text", True),
    ("plan_name", "text"),
    ("monthly_fee", "numeric(10,2)", True),
    ("contract_months", "integer"),
    ("status", "text", True),
    ("activated_at", "timestamptz", True),
    ("deactivated_at", "timestamptz"),
    ("churn_type", "text"),
    ("updated_at", "timestamptz", True),
)

TICKETS = table(
    "crm",
    "tickets",
    "ticket_id",
    ("ticket_id", "text"),
    ("customer_id", "text", True),
    ("channel", "text", True),
    ("category", "text", True),
    ("created_at", "timestamptz", True),
    ("first_response_at", "timestamptz"),
    ("resolved_at", "timestamptz"),
    ("contact_count", "integer"),
    ("status", "text", True),
    ("updated_at", "timestamptz", True),
)

TABLES = (CUSTOMERS, SUBSCRIPTIONS, TICKETS)

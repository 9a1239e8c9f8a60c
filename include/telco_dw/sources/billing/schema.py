"""Tables landed from the billing OLTP database into ``raw_billing``. Personal: bank card number (sensitive)."""

from telco_dw.sources.schema import table

ACCOUNTS = table(
    "billing",
    "accounts",
    "account_id",
    ("account_id", "text"),
    ("customer_id", "text", True),
    ("pay_method", "text", True),
    ("bank_card_no", "text"),
    ("opened_at", "timestamptz", True),
    ("updated_at", "timestamptz", True),
)

INVOICES = table(
    "billing",
    "invoices",
    "invoice_id",
    ("invoice_id", "text"),
    ("account_id", "text", True),
    ("billing_month", "date", True),
    ("amount_excl_tax", "numeric(12,2)", True, ">= 0"),
    ("tax_amount", "numeric(12,2)", True, ">= 0"),
    ("issued_at", "timestamptz", True),
    ("due_date", "date", True),
    ("updated_at", "timestamptz", True),
)

INVOICE_LINES = table(
    "billing",
    "invoice_lines",
    "line_id",
    ("line_id", "text"),
    ("invoice_id", "text", True),
    ("line_type", "text", True),
    ("amount_excl_tax", "numeric(12,2)", True),
    ("updated_at", "timestamptz", True),
)

PAYMENTS = table(
    "billing",
    "payments",
    "payment_id",
    ("payment_id", "text"),
    ("invoice_id", "text", True),
    ("amount", "numeric(12,2)", True, ">= 0"),
    ("status", "text", True),
    ("paid_at", "timestamptz"),
    ("updated_at", "timestamptz", True),
)

TABLES = (ACCOUNTS, INVOICES, INVOICE_LINES, PAYMENTS)

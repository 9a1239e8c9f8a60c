"""Tables landed from survey exports into ``raw_survey``. Personal: MSISDN; comments may contain PII."""

from telco_dw.sources.schema import table

RESPONSES = table(
    "survey",
    "responses",
    "response_id",
    ("response_id", "text"),
    ("customer_id", "text", True),
    ("msisdn", "text"),
    ("survey_type", "text", True),
    ("touchpoint", "text", True),
    ("ticket_id", "text"),
    ("submitted_at", "timestamptz", True),
    ("score", "integer", True),
    ("scale_max", "integer", True),
    ("comment", "text"),
)

TABLES = (RESPONSES,)

"""Tables landed from survey vendor exports into ``raw_survey``: one row per answered question.

Personal: MSISDN; free-text comments may contain phone numbers, emails or ID numbers.
"""

from telco_dw.sources.schema import table

RESPONSES = table(
    "survey",
    "responses",
    ("response_id", "question"),
    ("response_id", "text"),
    ("customer_id", "text", True),
    ("msisdn", "text"),
    ("survey_type", "text", True),
    ("touchpoint", "text", True),
    ("ticket_id", "text"),
    ("submitted_at", "timestamptz", True),
    ("question", "text", True),
    ("score", "integer", True),
    ("scale_max", "integer", True),
    ("comment", "text"),
    ("vendor", "text", True),
    ("export_id", "text", True),
    ("exported_at", "timestamptz", True),
    checks=(("score within 0..scale_max", "score between 0 and scale_max"),),
)

TABLES = (RESPONSES,)

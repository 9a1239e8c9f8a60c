"""Defaults shared by every DAG: start date and retry policy (cheap to import at parse time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START_DATE = datetime(2026, 10, 1, tzinfo=UTC)

DEFAULT_ARGS = {
    "owner": "telco-dw",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

"""Defaults shared by every DAG: start date, retry policy and failure callbacks (cheap to import at parse time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telco_dw import callbacks, config

START_DATE = datetime(2026, 10, 1, tzinfo=UTC)

DEFAULT_ARGS = {
    "owner": "telco-dw",
    "retries": config.load().task_retries,  # TASK_RETRIES
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "on_retry_callback": callbacks.on_retry,  # every failed attempt lands in audit.task_failures
    "on_failure_callback": callbacks.on_failure,
}

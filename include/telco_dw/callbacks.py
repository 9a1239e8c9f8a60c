"""Airflow task callbacks: every failed attempt of a pipeline task is logged and recorded in
``audit.task_failures``, naming the batch (file, API window, table window) it failed on; the last
attempt is also alerted to ``ALERT_TARGETS`` (``telco_dw.alerts``).

Imported by ``dag_defaults`` at parse time, so this module imports nothing heavy at the top.
A callback never raises: if the warehouse cannot take the record, the task log still has the line.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def on_retry(context: dict[str, Any]) -> None:
    """A failed attempt that Airflow will retry."""
    record_failure(context, will_retry=True)


def on_failure(context: dict[str, Any]) -> None:
    """A failed attempt with no retry left: recorded, and alerted (``telco_dw.alerts``)."""
    record_failure(context, will_retry=False)
    try:
        from telco_dw import alerts
        from telco_dw.config import load

        alerts.send(alerts.from_context(context), alerts.targets(load().alert_targets))
    except Exception as exc:  # a bad ALERT_TARGETS must not hide the failure itself
        log.warning("could not send the failure alert: %s", exc)


def describe(context: dict[str, Any], will_retry: bool) -> dict[str, Any]:
    """The facts of a failed attempt: task, run, try, data interval, the batch and the error's first line."""
    ti = context["ti"]
    error = context.get("exception")
    text = str(error).strip() if error is not None else ""
    return {
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": getattr(ti, "try_number", None),
        "will_retry": will_retry,
        "interval_start": context.get("data_interval_start"),
        "interval_end": context.get("data_interval_end"),
        "source_ref": getattr(error, "source_ref", None),
        "error": text.splitlines()[0] if text else type(error).__name__ if error is not None else "unknown error",
    }


def record_failure(context: dict[str, Any], will_retry: bool) -> None:
    facts = describe(context, will_retry)
    log.error(
        "%s.%s failed (try %s, run %s%s)%s: %s",
        facts["dag_id"],
        facts["task_id"],
        facts["try_number"],
        facts["run_id"],
        ", will retry" if will_retry else ", no retry left",
        f" on batch {facts['source_ref']}" if facts["source_ref"] else "",
        facts["error"],
    )
    try:
        import psycopg

        from telco_dw.tasks import warehouse_url_from_connection

        with psycopg.connect(warehouse_url_from_connection(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                "insert into audit.task_failures (dag_id, task_id, run_id, try_number, will_retry, "
                "interval_start, interval_end, source_ref, error) values (%(dag_id)s, %(task_id)s, %(run_id)s, "
                "%(try_number)s, %(will_retry)s, %(interval_start)s, %(interval_end)s, %(source_ref)s, %(error)s)",
                facts,
            )
    except Exception as exc:  # the record is evidence, not the task: never fail the callback
        log.warning("could not record the failure in audit.task_failures: %s", exc)

"""Alerts when a pipeline task fails for good: always to the log, and to every target in ``ALERT_TARGETS``.

A target is a URL and its scheme picks the sender (:data:`SENDERS`; add one to plug in another
channel): ``https://...`` / ``http://...`` POST the alert as JSON (a chat or incident webhook),
``mailto:ops@example.com`` mails it through ``SMTP_URL``. An alert names the DAG, run, task and
data interval, the batch it failed on, and the error in full, which for a data-quality gate lists
the suite, table and every failed check (never a row value: see ``telco_dw.quality.results``).

A target that cannot be reached is logged and skipped: alerting never fails the callback.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from telco_dw.errors import UserError

log = logging.getLogger(__name__)

TIMEOUT_S = 10


@dataclass(frozen=True)
class Alert:
    dag_id: str
    task_id: str
    run_id: str
    interval_end: str | None
    source_ref: str | None
    error: str

    @property
    def subject(self) -> str:
        first = self.error.splitlines()[0] if self.error else "failed"
        return f"[telco-dw] {self.dag_id}.{self.task_id} failed: {first}"[:200]

    @property
    def body(self) -> str:
        lines = [f"DAG {self.dag_id}, task {self.task_id}, run {self.run_id}"]
        if self.interval_end:
            lines.append(f"data interval ending {self.interval_end}")
        if self.source_ref:
            lines.append(f"batch: {self.source_ref}")
        return "\n".join([*lines, "", self.error])


def _webhook(url: str, alert: Alert) -> None:
    payload = json.dumps({"text": alert.subject, "alert": asdict(alert), "body": alert.body}).encode()
    request = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        response.read()


def smtp_settings(smtp_url: str) -> dict[str, Any]:
    """``smtp://user:password@host:port?starttls=1&from=telco-dw@example.com`` as connection settings."""
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise UserError(f"SMTP_URL must look like smtp://user:password@host:587?starttls=1, not {parts.scheme}://...")
    query = parse_qs(parts.query)
    return {
        "host": parts.hostname,
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "ssl": parts.scheme == "smtps",
        "starttls": query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "sender": query.get("from", ["telco-dw@localhost"])[0],
    }


def _email(url: str, alert: Alert) -> None:
    from telco_dw.config import load

    settings = smtp_settings(load().smtp_url)
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings["sender"]
    message["To"] = url.removeprefix("mailto:")
    message.set_content(alert.body)
    client = smtplib.SMTP_SSL if settings["ssl"] else smtplib.SMTP
    with client(settings["host"], settings["port"], timeout=TIMEOUT_S) as smtp:
        if settings["starttls"]:
            smtp.starttls()
        if settings["user"]:
            smtp.login(settings["user"], settings["password"] or "")
        smtp.send_message(message)


SENDERS: dict[str, Callable[[str, Alert], None]] = {"http": _webhook, "https": _webhook, "mailto": _email}
"""URL scheme of a target -> the function that delivers an alert to it."""


def targets(spec: str) -> list[str]:
    """The target URLs of an ``ALERT_TARGETS`` value (comma-separated); an unknown scheme is an error."""
    out = [t.strip() for t in spec.split(",") if t.strip()]
    for target in out:
        if urlsplit(target).scheme not in SENDERS:
            raise UserError(
                f"ALERT_TARGETS has {target.split(':')[0]}: targets, which telco-dw cannot send to; "
                f"use {', '.join(sorted(SENDERS))} URLs"
            )
    return out


def _redacted(target: str) -> str:
    """A target as it may be logged: no credentials, no query (webhook URLs often carry a token there)."""
    parts = urlsplit(target)
    if not parts.hostname:
        return target.split("?")[0]
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def send(alert: Alert, to: list[str]) -> dict[str, str]:
    """Log ``alert`` and deliver it to every target; what happened per target ("sent" or why not)."""
    log.error("ALERT %s\n%s", alert.subject, alert.body)
    done = {}
    for target in to:
        try:
            SENDERS[urlsplit(target).scheme](target, alert)
            done[_redacted(target)] = "sent"
        except Exception as exc:  # one unreachable target must not stop the others
            done[_redacted(target)] = f"not sent: {exc}"
            log.warning("alert to %s not sent: %s", _redacted(target), exc)
    return done


def from_context(context: dict[str, Any]) -> Alert:
    """The alert for a failed task's Airflow context."""
    ti = context["ti"]
    error = context.get("exception")
    interval_end = context.get("data_interval_end")
    return Alert(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        interval_end=str(interval_end) if interval_end is not None else None,
        source_ref=getattr(error, "source_ref", None),
        error=str(error).strip() if error is not None else "unknown error",
    )

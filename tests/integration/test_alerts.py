"""Alerts reach a real webhook (HTTP server) and a real mailbox (SMTP server) on this machine; an
unreachable target is reported and skipped; a bad ALERT_TARGETS is a clear error."""

from __future__ import annotations

import socket
import socketserver
import threading
from email import message_from_bytes

import pytest

from telco_dw import alerts
from telco_dw.errors import UserError

pytestmark = pytest.mark.integration

ALERT = alerts.Alert(
    dag_id="transform",
    task_id="validate_marts",
    run_id="scheduled__2026-10-04T00:00:00+00:00",
    interval_end="2026-10-04 00:00:00+00:00",
    source_ref=None,
    error="data quality gate failed: 1 of 5 critical expectations of suite 'marts.dim_customers' failed on "
    "marts.dim_customers (run transform/x).\n  - expect_column_values_to_be_unique(column=customer_id): 3 unexpected",
)


class Mailbox:
    """A minimal SMTP server on 127.0.0.1 (RFC 5321 commands, no auth) keeping each message's bytes."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line.strip().split(b" ")[0].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        body = b""
                        while (chunk := self.rfile.readline()) != b".\r\n":
                            body += chunk
                        outer.messages.append(body)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb == b"EHLO":
                        self.wfile.write(b"250 test\r\n")
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def mailbox(monkeypatch):
    from telco_dw import config

    box = Mailbox()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{box.port}?from=dw-alerts@example.com")
    config.load.cache_clear()
    yield box
    box.close()
    config.load.cache_clear()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_alert_reaches_every_target_and_an_unreachable_one_is_skipped(webhook, mailbox):
    dead = f"http://127.0.0.1:{_closed_port()}/hook"
    done = alerts.send(ALERT, alerts.targets(f"{webhook.url}, mailto:oncall@example.com, {dead}"))

    assert list(done.values())[:2] == ["sent", "sent"] and list(done.values())[2].startswith("not sent:")
    [posted] = webhook.received
    assert posted["alert"]["dag_id"] == "transform" and posted["alert"]["run_id"] == ALERT.run_id
    assert "marts.dim_customers" in posted["text"] and "customer_id" in posted["body"]
    [raw] = mailbox.messages
    mail = message_from_bytes(raw)
    assert mail["To"] == "oncall@example.com" and mail["From"] == "dw-alerts@example.com"
    assert mail["Subject"].startswith("[telco-dw] transform.validate_marts failed: data quality gate failed")
    assert "expect_column_values_to_be_unique(column=customer_id)" in mail.get_payload(decode=True).decode()


def test_bad_targets_and_smtp_urls_are_clear_errors():
    with pytest.raises(UserError, match="ALERT_TARGETS has slack: targets"):
        alerts.targets("https://example.com/hook, slack:#ops")
    assert alerts.targets(" , ") == []
    with pytest.raises(UserError, match="SMTP_URL must look like smtp://"):
        alerts.smtp_settings("http://mail.example.com")
    settings = alerts.smtp_settings("smtps://bot:p%40ss@mail.example.com?from=dw@example.com")
    assert (settings["port"], settings["ssl"], settings["password"], settings["sender"]) == (
        465, True, "p@ss", "dw@example.com",
    )  # fmt: skip

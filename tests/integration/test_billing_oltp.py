"""The billing OLTP simulator on the real PostgreSQL (database billing_src, a schema of its own):
day files applied in order, upserted by key, idempotently, all or nothing per day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from telco_dw.errors import UserError
from telco_dw.sources.billing import oltp
from telco_dw.warehouse.connection import warehouse_url

pytestmark = pytest.mark.integration
SCHEMA = "billing_oltp_test"
D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)

DAY_FILES: dict[date, dict[str, list[str]]] = {
    D1: {
        "accounts": [
            "account_id,customer_id,pay_method,bank_card_no,opened_at,updated_at",
            "A1,C1,alipay,6222000011112222,2025-04-28T17:30:37Z,2025-04-28T17:30:37Z",
            "A2,C2,bank_card,,2024-01-02T03:04:05Z,2024-01-02T03:04:05Z",  # empty = NULL
        ],
        "invoices": [
            "invoice_id,account_id,billing_month,amount_excl_tax,tax_amount,issued_at,due_date,updated_at",
            "I1,A1,2026-09-01,99.00,5.94,2026-09-01T02:00:00Z,2026-09-16,2026-09-01T02:00:00Z",
            "I2,A2,2026-09-01,59.00,3.54,2026-09-01T02:00:00Z,2026-09-16,2026-09-01T02:00:00Z",
            "I2,A2,2026-09-01,59.00,3.54,2026-09-01T02:00:00Z,2026-09-16,2026-09-01T02:00:00Z",  # duplicate
        ],
        "invoice_lines": [
            "line_id,invoice_id,line_type,amount_excl_tax,updated_at",
            "I1-1,I1,plan_fee,99.00,2026-09-01T02:00:00Z",
            "I2-1,I2,plan_fee,69.00,2026-09-01T02:00:00Z",
            "I2-2,I2,discount,-10.00,2026-09-01T02:00:00Z",
        ],
        "payments": [
            "payment_id,invoice_id,amount,status,paid_at,updated_at",
            "P1,I1,104.94,pending,,2026-10-01T08:00:00Z",
            "P2,I2,62.54,pending,,2026-10-01T09:00:00Z",
            "P9,I404,10.00,settled,2026-10-01T10:00:00Z,2026-10-01T10:00:00Z",  # orphan: no invoice I404
        ],
    },
    D2: {
        "payments": [
            "payment_id,invoice_id,amount,status,paid_at,updated_at",
            "P1,I1,104.94,settled,2026-10-02T07:00:00Z,2026-10-02T07:00:00Z",
        ],
        "invoices": [  # a correction: a new version of I2
            "invoice_id,account_id,billing_month,amount_excl_tax,tax_amount,issued_at,due_date,updated_at",
            "I2,A2,2026-09-01,49.00,2.94,2026-09-01T02:00:00Z,2026-09-16,2026-10-02T11:00:00Z",
        ],
    },
    D3: {
        "payments": [  # two versions of P2 in one day: the later one wins
            "payment_id,invoice_id,amount,status,paid_at,updated_at",
            "P2,I2,52.00,late,2026-10-03T09:00:00Z,2026-10-03T09:00:00Z",
            "P2,I2,52.00,failed,,2026-10-03T01:00:00Z",
        ],
    },
}


def _write_day(outbox: Path, day: date, files: dict[str, list[str]]) -> None:
    folder = outbox / "billing" / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    for table, lines in files.items():
        (folder / f"{table}.csv").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    for day, files in DAY_FILES.items():
        _write_day(tmp_path, day, files)
    return tmp_path


@pytest.fixture
def conn(warehouse) -> Iterator[psycopg.Connection]:
    """A connection to billing_src whose tables live in a schema of this test (dropped afterwards)."""
    url = warehouse_url(warehouse, "billing_src")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"drop schema if exists {SCHEMA} cascade")
        admin.execute(f"create schema {SCHEMA}")
    with psycopg.connect(url, autocommit=True, options=f"-c search_path={SCHEMA}") as connection:
        yield connection
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"drop schema {SCHEMA} cascade")


def _rows(conn: psycopg.Connection, table: str) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in conn.execute(f"select * from {table} order by 1")}


def test_advance_applies_days_through_the_date_inclusive_and_counts_rows(conn, outbox) -> None:
    first = oltp.advance(conn, outbox, D1)
    assert first == {"accounts": 2, "invoices": 2, "invoice_lines": 3, "payments": 3, "days": 1}
    assert {t: len(_rows(conn, t)) for t in ("accounts", "invoices", "invoice_lines", "payments")} == {
        "accounts": 2,
        "invoices": 2,
        "invoice_lines": 3,
        "payments": 3,
    }
    assert _rows(conn, "accounts")["A2"][2] is None  # empty CSV field = NULL
    assert "P9" in _rows(conn, "payments")  # orphans are possible: no foreign keys
    assert oltp.applied_days(conn) == [D1]


def test_advance_is_idempotent(conn, outbox) -> None:
    oltp.advance(conn, outbox, D3)
    before = {t: _rows(conn, t) for t in ("accounts", "invoices", "invoice_lines", "payments")}
    again = oltp.advance(conn, outbox, D3)
    assert again == {"accounts": 0, "invoices": 0, "invoice_lines": 0, "payments": 0, "days": 0}
    assert {t: _rows(conn, t) for t in before} == before
    applied = conn.execute("select day, rows from sim_applied_days order by day").fetchall()
    assert applied == [
        (D1, {"accounts": 2, "invoices": 2, "invoice_lines": 3, "payments": 3}),
        (D2, {"invoices": 1, "payments": 1}),
        (D3, {"payments": 1}),
    ]


def test_a_later_day_replaces_the_row_in_place(conn, outbox) -> None:
    oltp.advance(conn, outbox, D1)
    assert _rows(conn, "payments")["P1"][2] == "pending"
    counts = oltp.advance(conn, outbox, D3)
    assert counts == {"accounts": 0, "invoices": 1, "invoice_lines": 0, "payments": 2, "days": 2}
    payments, invoices = _rows(conn, "payments"), _rows(conn, "invoices")
    assert len(payments) == 3 and len(invoices) == 2  # updated in place, not duplicated
    assert payments["P1"][2] == "settled" and payments["P1"][3] is not None  # settled after insert
    assert payments["P2"][2] == "late"  # the day's latest version of P2, not the one written last
    assert str(invoices["I2"][2]) == "49.00"  # the correction replaced the first version
    newest = conn.execute("select max(updated_at) from payments where updated_at < '2026-10-04'").fetchone()
    assert newest is not None and newest[0].isoformat() == "2026-10-03T09:00:00+00:00"


def test_a_day_that_turns_up_late_does_not_move_rows_back(conn, outbox) -> None:
    oltp.advance(conn, outbox, D3)
    _write_day(  # an older day appears after later days were applied, with an older version of P1
        outbox,
        date(2026, 9, 30),
        {
            "payments": [
                "payment_id,invoice_id,amount,status,paid_at,updated_at",
                "P1,I1,1.00,failed,,2026-09-30T00:00:00Z",
            ]
        },
    )
    counts = oltp.advance(conn, outbox, D3)
    assert counts["days"] == 1 and counts["payments"] == 0
    assert _rows(conn, "payments")["P1"][2] == "settled"


def test_a_bad_file_fails_its_day_whole_naming_file_and_line(conn, outbox) -> None:
    oltp.advance(conn, outbox, D3)
    d4 = date(2026, 10, 4)
    bad_lines = [
        "payment_id,invoice_id,amount,status,paid_at,updated_at",
        "P3,I1,5.00,pending,,2026-10-04T01:00:00Z",
        "P4,I1,five,pending,,2026-10-04T02:00:00Z",
    ]
    _write_day(outbox, d4, {"payments": bad_lines})
    with pytest.raises(
        UserError, match=r"dt=2026-10-04/payments\.csv line 3, column amount: .*numeric: \"five\""
    ) as err:
        oltp.advance(conn, outbox, d4)
    assert "_stage" not in str(err.value)
    assert d4 not in oltp.applied_days(conn) and "P3" not in _rows(conn, "payments")  # nothing of that day
    _write_day(outbox, d4, {"payments": [line.replace("five", "5.50") for line in bad_lines]})
    assert oltp.advance(conn, outbox, d4)["payments"] == 2


def test_a_header_that_does_not_fit_is_refused(conn, outbox) -> None:
    _write_day(outbox, D1, {"accounts": ["account_id,customer,updated_at", "A1,C1,2026-10-01T00:00:00Z"]})
    with pytest.raises(UserError, match=r"accounts\.csv: the header .* \(unknown \['customer'\]\)"):
        oltp.advance(conn, outbox, D1)

"""Billing extracts through COPY: the source server's ``COPY (query) TO STDOUT`` bytes, unparsed, into
the warehouse's COPY, checked against the server-cursor row path (the reference).

A simulated world's billing OLTP (a schema of this test in ``billing_src``) is landed into a scratch
warehouse database of this test: the same rows land with the same row numbers and values, the same
rows are quarantined with the same reasons and raw records, a re-run of the interval gives the same
counts and checksums, and an empty string stays an empty string (only a source null is null).
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
from psycopg import sql

from telco_dw.load import ddl
from telco_dw.load.landing import Endpoints, land_source
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.sources.billing import extract, oltp
from telco_dw.sources.billing.schema import TABLES
from telco_dw.warehouse.connection import connect, ensure_database, warehouse_url

pytestmark = pytest.mark.integration

START = date(2026, 10, 1)
DAYS = 5
END = START + timedelta(days=DAYS)
WORLD = SimConfig(customers=150, days=DAYS, start=START, seed=33, dirty_rate=0.03)
DATABASE = "telco_dw_billing_extract_test"
SCHEMA = "billing_extract_test"


@pytest.fixture(scope="module")
def source(warehouse, tmp_path_factory):
    """The world's billing OLTP, applied through the day before END; yields its URL (search_path set)."""
    outbox = tmp_path_factory.mktemp("billing_outbox")
    generate(outbox, WORLD)
    base = warehouse_url(warehouse, "billing_src")
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"drop schema if exists {SCHEMA} cascade")
        admin.execute(f"create schema {SCHEMA}")
    url = f"{base}?options=-csearch_path%3D{SCHEMA}"
    with psycopg.connect(url, autocommit=True) as conn:
        oltp.advance(conn, outbox, END - timedelta(days=1))
    yield url
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"drop schema {SCHEMA} cascade")


@pytest.fixture
def conn(warehouse):
    """An empty scratch warehouse database (raw tables, ledger, watermarks of this test only)."""
    ensure_database(warehouse, DATABASE, "or run the tests against the embedded test server")
    with connect(warehouse, DATABASE, autocommit=True) as conn:
        with conn.transaction():
            ddl.ensure_all(conn)
        conn.execute(
            "truncate raw_billing.accounts, raw_billing.invoices, raw_billing.invoice_lines, raw_billing.payments, "
            "quarantine.billing, audit.load_batches, audit.watermarks"
        )
        yield conn
    with connect(warehouse, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))


def _land(conn, source_url):
    return land_source(conn, "billing", Endpoints(landing_url="unused", billing_url=source_url), END)


def _snapshot(conn) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        out[table.name] = conn.execute(
            f"select _source_file, _row_number, {', '.join(table.column_names)} from {table.qualified} order by 1, 2"
        ).fetchall()
    out["quarantine"] = conn.execute(
        "select source_ref, row_number, reason, raw_record from quarantine.billing order by 1, 2"
    ).fetchall()
    out["ledger"] = conn.execute(
        "select source_file, rows_read, rows_landed, rows_quarantined from audit.load_batches order by 1"
    ).fetchall()
    return out


def test_billing_lands_through_copy_as_through_the_cursor(conn, source, paths, monkeypatch):
    fast = _land(conn, source)
    assert "rows" not in paths and "fast" in paths  # every table through COPY, none parsed in Python
    through_copy = _snapshot(conn)
    assert sum(r.rows_quarantined for r in fast) > 0  # the dirty world's bad billing rows
    assert all(r.rows_read == r.rows_landed + r.rows_quarantined for r in fast)

    conn.execute(
        "truncate raw_billing.accounts, raw_billing.invoices, raw_billing.invoice_lines, raw_billing.payments, "
        "quarantine.billing, audit.load_batches, audit.watermarks"
    )
    paths.clear()
    monkeypatch.setattr(extract, "CsvStream", lambda **_: None)  # the server-cursor row path only
    _land(conn, source)
    assert set(paths) == {"rows"}
    assert _snapshot(conn) == through_copy


def test_a_rerun_of_the_interval_gives_the_same_counts_and_checksums(conn, source, paths):
    _land(conn, source)
    query = "select source_file, rows_read, rows_landed, rows_quarantined, file_sha256 from audit.load_batches"
    first = sorted(conn.execute(query).fetchall())
    assert all(len(row[4]) == 64 for row in first)  # the SHA-256 of the bytes the source wrote
    _land(conn, source)
    assert sorted(conn.execute(query).fetchall()) == first


def test_an_empty_string_stays_an_empty_string(conn, source):
    with psycopg.connect(source, autocommit=True) as src:
        account = src.execute("select account_id from accounts where bank_card_no is not null limit 1").fetchone()[0]
        src.execute("update accounts set bank_card_no = '' where account_id = %s", (account,))
        nulled = src.execute("select account_id from accounts where bank_card_no is null limit 1").fetchone()
    _land(conn, source)
    value = conn.execute("select bank_card_no from raw_billing.accounts where account_id = %s", (account,)).fetchone()
    assert value == ("",)
    if nulled is not None:
        assert conn.execute(
            "select bank_card_no from raw_billing.accounts where account_id = %s", (nulled[0],)
        ).fetchone() == (None,)

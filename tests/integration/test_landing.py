"""COPY landing: one batch per file, redeliveries skipped, changed files replaced, drift named."""

import csv
from datetime import date

import pytest

from telco_dw.errors import UserError
from telco_dw.load.landing import land_source
from telco_dw.simulate.world import generate
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration


@pytest.fixture
def landed(warehouse, tmp_path):
    """A small world in its own landing folder; raw CRM tables and their ledger rows emptied first."""
    landing = tmp_path / "landing"
    generate(landing, customers=25, days=3, start=date(2026, 10, 1), seed=11)
    with connect(warehouse, autocommit=True) as conn:
        _reset(conn)
        yield conn, landing
        _reset(conn)


def _reset(conn):
    conn.execute("truncate raw_crm.customers, raw_crm.subscriptions, raw_crm.tickets")
    conn.execute("delete from audit.load_batches where source = 'crm'")


def _counts(conn):
    return conn.execute(
        "select (select count(*) from raw_crm.customers), (select count(*) from raw_crm.subscriptions), "
        "(select count(*) from audit.load_batches where source = 'crm')"
    ).fetchone()


def test_lands_every_row_with_metadata_and_balances_the_ledger(landed):
    conn, landing = landed
    results = land_source(conn, landing, "crm")
    assert {r.status for r in results} == {"landed"}
    assert _counts(conn)[0] == 25
    row = conn.execute(
        "select count(*) filter (where _batch_id is null or _source_file is null or _row_number is null), "
        "min(_row_number), max(_row_number) from raw_crm.customers"
    ).fetchone()
    assert row == (0, 1, 25)
    ledger = conn.execute(
        "select sum(rows_read), sum(rows_landed), sum(rows_quarantined) from audit.load_batches where source = 'crm'"
    ).fetchone()
    actual = conn.execute(
        "select (select count(*) from raw_crm.customers) + (select count(*) from raw_crm.subscriptions) "
        "+ (select count(*) from raw_crm.tickets)"
    ).fetchone()[0]
    assert ledger == (actual, actual, 0)


def test_rerun_and_redelivery_land_nothing_twice(landed):
    conn, landing = landed
    land_source(conn, landing, "crm")
    before = _counts(conn)
    again = land_source(conn, landing, "crm")
    assert {r.status for r in again} == {"skipped"}
    path = landing / "crm/customers/dt=2026-10-01/customers.csv"
    path.write_bytes(path.read_bytes())  # the same file delivered again: new mtime, same content
    land_source(conn, landing, "crm")
    assert _counts(conn) == before


def test_a_changed_file_replaces_its_batch(landed):
    conn, landing = landed
    land_source(conn, landing, "crm")
    path = landing / "crm/customers/dt=2026-10-01/customers.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-5]), encoding="utf-8")  # corrected delivery: five customers fewer
    results = land_source(conn, landing, "crm")
    assert [r.status for r in results if r.table == "raw_crm.customers"] == ["landed"]
    assert _counts(conn)[0] == 20
    assert (
        conn.execute("select count(*) from audit.load_batches where target_table = 'raw_crm.customers'").fetchone()[0]
        == 1
    )


def test_only_days_before_the_interval_end_land(landed):
    conn, landing = landed
    results = land_source(conn, landing, "crm", before=date(2026, 10, 2))
    assert results and all("dt=2026-10-01" in r.source_file for r in results)


def test_schema_drift_names_the_file_and_column_and_lands_nothing(landed):
    conn, landing = landed
    path = landing / "crm/customers/dt=2026-10-01/customers.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("email", "e_mail", 1), encoding="utf-8")
    with pytest.raises(UserError) as err:
        land_source(conn, landing, "crm")
    message = str(err.value)
    assert str(path) in message and "email" in message and "e_mail" in message
    assert _counts(conn)[0] == 0
    assert (
        conn.execute("select count(*) from audit.load_batches where target_table = 'raw_crm.customers'").fetchone()[0]
        == 0
    )


def test_a_bad_value_fails_the_file_naming_it(landed):
    conn, landing = landed
    path = landing / "crm/customers/dt=2026-10-01/customers.csv"
    rows = list(csv.reader(path.open(encoding="utf-8")))
    rows[3][rows[0].index("birth_date")] = "31/02/1990"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    with pytest.raises(UserError, match=r"customers\.csv: landing into raw_crm\.customers failed"):
        land_source(conn, landing, "crm")
    assert _counts(conn)[0] == 0


def test_missing_landing_folder_says_what_to_do(warehouse, tmp_path):
    with connect(warehouse, autocommit=True) as conn, pytest.raises(UserError, match="telco-dw simulate"):
        land_source(conn, tmp_path / "nowhere", "crm")

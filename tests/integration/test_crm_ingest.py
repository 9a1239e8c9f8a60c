"""CRM landing against the real warehouse: records without a usable ``updated_at`` reach quarantine
(once, not dropped), and the bulk CSV export lands through the same ledger and quarantine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from telco_dw.errors import UserError
from telco_dw.load.landing import Endpoints, land_crm_export, land_source
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.sources.crm.api import CrmApiServer
from telco_dw.sources.crm.export import default_mapping_yaml, load_mapping, read_export
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration
TOKEN = "crm-ingest-token"
AS_OF = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
CLI = str(Path(sys.executable).with_name("telco-dw"))


@pytest.fixture
def conn(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        _reset(conn)
        yield conn
        _reset(conn)


def _reset(conn) -> None:
    conn.execute("truncate raw_crm.customers, raw_crm.subscriptions, raw_crm.tickets, quarantine.crm")
    conn.execute("delete from quarantine.column_issues where target_table like 'raw_crm.%'")
    conn.execute("delete from audit.load_batches where source = 'crm'")
    conn.execute("delete from audit.watermarks where source = 'crm'")


def _balanced(conn) -> None:
    for ref, read, landed, held in conn.execute(
        "select source_file, rows_read, rows_landed, rows_quarantined from audit.load_batches where source = 'crm'"
    ):
        raw = conn.execute("select count(*) from raw_crm.customers where _source_file = %s", (ref,)).fetchone()[0]
        raw += conn.execute("select count(*) from raw_crm.subscriptions where _source_file = %s", (ref,)).fetchone()[0]
        raw += conn.execute("select count(*) from raw_crm.tickets where _source_file = %s", (ref,)).fetchone()[0]
        quarantined = conn.execute("select count(*) from quarantine.crm where source_ref = %s", (ref,)).fetchone()[0]
        assert (read, landed, held) == (landed + held, raw, quarantined), ref


# --- records without a usable updated_at ------------------------------------------------------


def _customer(n: int, updated_at: str | None, day: str) -> dict:
    return {
        "customer_id": f"C{n:07d}", "full_name": f"客户{n}", "gender": "F", "province": "广东省", "city": "深圳市",
        "created_at": f"{day}T01:00:00Z", "updated_at": updated_at,
    }  # fmt: skip


@pytest.fixture(scope="module")
def crm_outbox(tmp_path_factory) -> Path:
    """Customers over three days; on 10-02 two have no updated_at and one an unusable one."""
    root = tmp_path_factory.mktemp("crm_null_updated_at")
    days = {
        "2026-10-01": [_customer(n, f"2026-10-01T{n:02d}:00:00Z", "2026-10-01") for n in range(1, 6)],
        "2026-10-02": [_customer(n, f"2026-10-02T{n:02d}:30:00Z", "2026-10-02") for n in range(6, 10)]
        + [_customer(90, None, "2026-10-02"), _customer(91, None, "2026-10-02"), _customer(92, "soon", "2026-10-02")],
        "2026-10-03": [_customer(n, f"2026-10-03T{n - 8:02d}:00:00Z", "2026-10-03") for n in range(10, 13)],
    }
    for day, records in days.items():
        folder = root / "crm" / "customers" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "customers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root


def _quarantined_ids(conn) -> list[str]:
    return sorted(r for (r,) in conn.execute("select raw_record ->> 'customer_id' from quarantine.crm"))


def test_records_without_updated_at_are_quarantined_once_across_daily_runs(conn, crm_outbox, tmp_path):
    with CrmApiServer(crm_outbox, TOKEN) as api:
        endpoints = Endpoints(landing_url=str(tmp_path), crm_url=api.url, crm_token=TOKEN)
        for end in (date(2026, 10, 2), date(2026, 10, 3), date(2026, 10, 4)):
            land_source(conn, "crm", endpoints, end)
        land_source(conn, "crm", endpoints, date(2026, 10, 3))  # re-running an interval replaces its batch
    assert _quarantined_ids(conn) == ["C0000090", "C0000091", "C0000092"]
    reasons = dict(conn.execute("select raw_record ->> 'customer_id', reason from quarantine.crm").fetchall())
    assert reasons["C0000090"] == "updated_at: required value missing"
    assert "updated_at: 'soon' is not a valid timestamptz" in reasons["C0000092"]
    landed = [r for (r,) in conn.execute("select customer_id from raw_crm.customers order by 1")]
    assert landed == [f"C{n:07d}" for n in range(1, 13)]  # every usable record exactly once
    _balanced(conn)


def test_one_run_over_all_days_quarantines_the_same_records(conn, crm_outbox, tmp_path):
    with CrmApiServer(crm_outbox, TOKEN) as api:
        land_source(conn, "crm", Endpoints(str(tmp_path), crm_url=api.url, crm_token=TOKEN), date(2026, 10, 4))
    assert _quarantined_ids(conn) == ["C0000090", "C0000091", "C0000092"]
    assert conn.execute("select count(*) from raw_crm.customers").fetchone()[0] == 12
    _balanced(conn)


# --- the bulk CSV export ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, Path]:
    """The simulator's export (with malformed, undecodable and duplicate records) and its mapping."""
    out = tmp_path_factory.mktemp("crm_export")
    generate(out, SimConfig(customers=200, days=1, start=date(2026, 10, 1), seed=17, dirty_rate=0.05))
    folder = out / "crm" / "export"
    return folder / "customers_export.csv", folder / "mapping.yml"


def _batch(conn, ref: str):
    return conn.execute(
        "select batch_id, rows_read, rows_landed, rows_quarantined, notes from audit.load_batches "
        "where source_file = %s",
        (ref,),
    ).fetchone()


def test_the_export_lands_every_row_or_quarantines_it_with_where_and_why(conn, export):
    path, mapping = export
    mapped = list(read_export(path, load_mapping(mapping)))  # independent count of what the file holds
    rejected = [m for m in mapped if m.rejected]
    assert rejected, "the dirty export should have rows the mapping rejects"
    result = land_crm_export(conn, path, mapping, AS_OF)
    assert (result.status, result.rows_read) == ("landed", len(mapped))
    assert result.rows_landed + result.rows_quarantined == result.rows_read
    batch_id, read, landed, held, notes = _batch(conn, "crm-export/customers_export.csv")
    assert (read, landed, held) == (result.rows_read, result.rows_landed, result.rows_quarantined)
    assert notes["unmapped_columns"] == ["会员等级"] and notes["as_of"] == AS_OF.isoformat()
    quarantine = conn.execute(
        "select row_number, reason, raw_text from quarantine.crm where batch_id = %s order by row_number", (batch_id,)
    ).fetchall()
    assert [q[0] for q in quarantine] == [m.number for m in rejected]
    assert all(reason.startswith(f"row {n} (line ") and raw for n, reason, raw in quarantine)
    assert any("column 详细地址: not utf-8" in r for _, r, _ in quarantine)  # the GBK line names its column
    # the same table and shape as the API's customers, with the export's time as updated_at
    rows = conn.execute(
        "select count(*), count(distinct customer_id), min(updated_at), max(updated_at), "
        "count(*) filter (where gender not in ('M', 'F')), count(*) filter (where created_at is null) "
        "from raw_crm.customers where _batch_id = %s",
        (batch_id,),
    ).fetchone()
    assert rows[0] == landed and rows[2] == rows[3] == AS_OF and rows[4:] == (0, 0)
    clean = {m.values["customer_id"] for m in mapped if not m.rejected}
    assert rows[1] == len(clean)  # exact duplicates land twice (the source said them); staging de-duplicates


def test_the_same_export_again_lands_nothing_twice_and_a_new_as_of_replaces_it(conn, export):
    path, mapping = export
    first = land_crm_export(conn, path, mapping, AS_OF)
    again = land_crm_export(conn, path, mapping, AS_OF)
    assert again.status == "skipped"
    later = land_crm_export(conn, path, mapping, AS_OF + timedelta(days=1))
    assert (later.status, later.rows_landed, later.rows_quarantined) == (
        "landed", first.rows_landed, first.rows_quarantined
    )  # fmt: skip
    assert conn.execute("select count(*) from raw_crm.customers").fetchone()[0] == first.rows_landed
    assert conn.execute("select count(*) from quarantine.crm").fetchone()[0] == first.rows_quarantined
    assert conn.execute("select count(*) from audit.load_batches where source = 'crm'").fetchone()[0] == 1


HEADER = "客户编号,姓名,性别,出生日期,证件号码,手机号码,电子邮箱,省份,城市,详细地址,开户时间,会员等级\n"


def _write_export(tmp_path: Path, lines: list[str]) -> tuple[Path, Path]:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(default_mapping_yaml(), encoding="utf-8")
    return path, mapping


def test_on_error_null_lands_null_and_records_the_issue_reject_quarantines(conn, tmp_path):
    path, mapping = _write_export(
        tmp_path,
        [
            "C1,张三,男,1990/01/02,,,,广东省,深圳市,,2026/09/01 08:00:00,金卡",
            "C2,李四,X,1990/13/45,,,,广东省,广州市,,2026/09/01 09:00:00,普通",  # gender, birth date: null
            "C3,王五,女,1985/05/05,,,,广东省,珠海市,,2026/02/30 10:00:00,普通",  # created_at: reject
            "C4,赵六,女,1985/05/05,,,,,珠海市,,2026/09/02 10:00:00,普通",  # 省份 required: reject
        ],
    )
    result = land_crm_export(conn, path, mapping, AS_OF)
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (4, 2, 2)
    assert result.notes["nulled_on_error"] == {"出生日期": 1, "性别": 1}
    c2 = conn.execute("select gender, birth_date, city from raw_crm.customers where customer_id = 'C2'").fetchone()
    assert c2 == (None, None, "广州市")
    issues = conn.execute(
        "select row_number, column_name, reason from quarantine.column_issues where source_ref = %s order by 2",
        ("crm-export/export.csv",),
    ).fetchall()
    assert [(n, col) for n, col, _ in issues] == [(2, "出生日期"), (2, "性别")]
    assert all(reason.startswith("row 2 (line 3): -> ") for _, _, reason in issues)
    assert "'1990/13/45' is not a date" in issues[0][2]
    reasons = dict(conn.execute("select row_number, reason from quarantine.crm").fetchall())
    assert reasons[3].startswith("row 3 (line 4), column 开户时间:") and "2026/02/30" in reasons[3]
    assert reasons[4] == "row 4 (line 5), column 省份: -> province: a value is required"
    _balanced(conn)


def test_declared_checks_still_apply_to_imported_rows(conn, tmp_path):
    path, mapping = _write_export(
        tmp_path, ["C5,孙七,男,2999/01/01,,,,广东省,深圳市,,2026/09/01 08:00:00,普通"]
    )  # a birth date in the future parses, but raw_crm.customers declares it out of range
    result = land_crm_export(conn, path, mapping, AS_OF)
    assert (result.rows_landed, result.rows_quarantined) == (0, 1)
    reason = conn.execute("select reason from quarantine.crm").fetchone()[0]
    assert reason.startswith("birth_date: 2999-01-01 out of range")


def test_a_mapping_onto_an_unknown_column_names_it_and_lands_nothing(conn, tmp_path):
    path, mapping = _write_export(tmp_path, ["C1,张三,男,1990/01/02,,,,广东省,深圳市,,2026/09/01 08:00:00,金卡"])
    mapping.write_text(default_mapping_yaml().replace("target: address", "target: street"), encoding="utf-8")
    with pytest.raises(UserError, match=r"mapping\.yml: column\(s\) \['详细地址 -> street'\] map onto no column"):
        land_crm_export(conn, path, mapping, AS_OF)
    assert conn.execute("select count(*) from audit.load_batches where source = 'crm'").fetchone()[0] == 0


def test_an_export_lacking_a_mapped_column_names_file_and_column(conn, tmp_path):
    path, mapping = _write_export(tmp_path, [])
    path.write_text(HEADER.replace("城市", "市"), encoding="utf-8")
    with pytest.raises(UserError, match=r"export\.csv: the export lacks the mapped column\(s\) \['城市'\]"):
        land_crm_export(conn, path, mapping, AS_OF)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=dict(os.environ), timeout=300)


def test_the_cli_lands_the_export_and_reports_counts(conn, export):
    path, mapping = export
    done = _cli("ingest", "crm-export", str(path), "--mapping", str(mapping), "--as-of", "2026-10-01T06:00:00")
    assert done.returncode == 0, done.stderr
    line = done.stdout.splitlines()[0].split()
    assert line[0] == "landed" and "crm-export/customers_export.csv" in done.stdout
    _, read, landed, held, _ = _batch(conn, "crm-export/customers_export.csv")
    assert [int(line[1]), int(line[3]), int(line[5])] == [read, landed, held]
    again = _cli("ingest", "crm-export", str(path), "--mapping", str(mapping), "--as-of", "2026-10-01T06:00:00Z")
    assert again.returncode == 0 and again.stdout.startswith("skipped"), again.stdout + again.stderr


def test_the_cli_names_a_missing_export_in_one_line(tmp_path):
    done = _cli("ingest", "crm-export", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no CRM export at {tmp_path / 'nope.csv'}: give the path of the CSV file"
    ]

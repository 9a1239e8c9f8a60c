"""The COPY fast path of a CSV batch: the file straight into the raw table's typed columns.

Checked against the stage path (the reference): the same rows land with the same row numbers, the
same rows are quarantined with the same reasons and raw records, and a file COPY refuses falls back.
"""

import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from telco_dw.load.batch import land_batch
from telco_dw.load.csvfile import file_batch
from telco_dw.sources.network.schema import CELL_KPI_HOURLY
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration

HEADER = "hour_start,cell_id,region,technology,rsrp_dbm,rsrq_db,sinr_db,dl_mbps,ul_mbps,latency_ms,"
HEADER += "call_attempts,call_setups,call_drops"
DECLARED = ", ".join(CELL_KPI_HOURLY.column_names)


def _line(n: int, rsrp: str = "-95.5", region: str = "north") -> str:
    return f"2026-10-01T{n % 24:02d}:00:00Z,C{n:05d},{region},LTE,{rsrp},-10.5,12.0,55.25,9.5,31.0,{n},{n},0"


@pytest.fixture
def conn(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        yield conn
        conn.execute("delete from raw_network.cell_kpi_hourly where _source_file like 'fast-copy/%'")
        conn.execute("delete from quarantine.network where source_ref like 'fast-copy/%'")
        conn.execute("delete from audit.load_batches where source_file like 'fast-copy/%'")


def _file(tmp_path: Path, name: str, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode())
    return path


def _batch(path: Path, ref: str):
    data = path.read_bytes()
    return file_batch(
        CELL_KPI_HOURLY,
        f"fast-copy/{ref}",
        lambda: path.open("rb"),
        checksum=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def _landed(conn, ref: str) -> list[tuple]:
    return conn.execute(
        f"select _row_number, {DECLARED} from raw_network.cell_kpi_hourly where _source_file = %s order by 1",
        (f"fast-copy/{ref}",),
    ).fetchall()


def _quarantined(conn, ref: str) -> list[tuple]:
    return conn.execute(
        "select row_number, reason, raw_record, raw_text from quarantine.network where source_ref = %s order by 1",
        (f"fast-copy/{ref}",),
    ).fetchall()


def _ledger(conn, ref: str) -> tuple:
    return conn.execute(
        "select batch_id, rows_read, rows_landed, rows_quarantined from audit.load_batches where source_file = %s",
        (f"fast-copy/{ref}",),
    ).fetchone()


def test_a_clean_file_lands_with_its_row_numbers_and_metadata(conn, paths, tmp_path):
    lines = [_line(n) for n in range(1, 6)]
    lines[1] = _line(2, region='"north\neast"')  # a quoted line break: one row, two lines
    lines[2] = _line(3, rsrp='""')  # a quoted empty value is null, as in the stage
    result = land_batch(conn, _batch(_file(tmp_path, "clean.csv", lines), "clean.csv"))

    assert paths == ["fast"]
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (5, 5, 0)
    rows = _landed(conn, "clean.csv")
    assert [(r[0], r[1]) for r in rows] == [(n, f"C{n:05d}") for n in range(1, 6)]
    assert rows[1][2] == "north\neast" and rows[2][5] is None
    batch_id = _ledger(conn, "clean.csv")[0]
    meta = conn.execute(
        "select distinct _batch_id::text, _source_file, _loaded_at = l.finished_at "  # now(): the transaction's start
        "from raw_network.cell_kpi_hourly join audit.load_batches l on l.batch_id = _batch_id::text "
        "where _source_file = 'fast-copy/clean.csv'"
    ).fetchall()
    assert meta == [(batch_id, "fast-copy/clean.csv", True)]
    # outside a batch the metadata defaults are empty: an insert without them still fails
    with pytest.raises(psycopg.errors.NotNullViolation):
        conn.execute("insert into raw_network.cell_kpi_hourly (cell_id) values ('x')")


def test_rule_breaking_rows_are_quarantined_exactly_as_by_the_stage(conn, paths, tmp_path):
    lines = [_line(n) for n in range(1, 9)]
    lines[2] = _line(3, rsrp="-20")  # out of range, written without the scale the column has
    lines[4] = _line(5, region="")  # a required value missing
    lines[6] = _line(7, rsrp="-200", region="")  # both
    path = _file(tmp_path, "dirty.csv", lines)
    fast = land_batch(conn, _batch(path, "dirty.csv"))
    assert paths == ["stage", "fast"]  # landed by the typed COPY; the file staged as text for the reasons
    reference = land_batch(conn, dataclasses.replace(_batch(path, "dirty-ref.csv"), csv=None))
    assert paths == ["stage", "fast", "rows"]

    assert (fast.rows_read, fast.rows_landed, fast.rows_quarantined) == (8, 5, 3)
    assert (reference.rows_read, reference.rows_landed, reference.rows_quarantined) == (8, 5, 3)
    assert _landed(conn, "dirty.csv") == _landed(conn, "dirty-ref.csv")
    assert [r[0] for r in _landed(conn, "dirty.csv")] == [1, 2, 4, 6, 8]
    quarantined = _quarantined(conn, "dirty.csv")
    assert quarantined == _quarantined(conn, "dirty-ref.csv")
    assert [(r[0], r[1]) for r in quarantined] == [
        (3, "rsrp_dbm: -20 out of range (must be between -156 and -31)"),
        (5, "region: required value missing"),
        (7, "region: required value missing; rsrp_dbm: -200 out of range (must be between -156 and -31)"),
    ]
    assert quarantined[0][2]["rsrp_dbm"] == "-20"  # the source text, not the typed -20.0


def test_a_file_copy_refuses_falls_back_to_the_stage(conn, paths, tmp_path):
    lines = [_line(n) for n in range(1, 6)]
    lines[1] = _line(2, rsrp="strong")  # not a numeric(6,1): COPY into the typed column fails
    lines[3] = _line(4, rsrp="-20")
    result = land_batch(conn, _batch(_file(tmp_path, "typed.csv", lines), "typed.csv"))

    assert paths == ["stage"]  # the fast path was tried and rolled back to its savepoint
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (5, 3, 2)
    assert [r[0] for r in _landed(conn, "typed.csv")] == [1, 3, 5]
    assert [(r[0], r[1]) for r in _quarantined(conn, "typed.csv")] == [
        (2, "rsrp_dbm: 'strong' is not a valid numeric(6,1)"),
        (4, "rsrp_dbm: -20 out of range (must be between -156 and -31)"),
    ]


def test_extra_columns_and_malformed_lines_take_the_stage(conn, paths, tmp_path):
    extra = land_batch(conn, _batch(_file(tmp_path, "extra.csv", [_line(1) + ",x"], HEADER + ",vendor"), "extra.csv"))
    assert paths == ["stage"] and extra.notes == {"extra_columns": ["vendor"]}
    assert _quarantined(conn, "extra.csv") == [] and len(_landed(conn, "extra.csv")) == 1

    paths.clear()
    broken = land_batch(
        conn, _batch(_file(tmp_path, "broken.csv", [_line(1), _line(2) + ",x", _line(3)]), "broken.csv")
    )
    assert paths == ["rows"]  # the typed COPY and the stage COPY both refused it
    assert (broken.rows_read, broken.rows_landed, broken.rows_quarantined) == (3, 2, 1)
    assert _quarantined(conn, "broken.csv")[0][:2] == (2, "malformed: 14 fields, the header has 13")


def test_replaced_and_concurrent_files_are_numbered_from_one(conn, paths, tmp_path, warehouse):
    land_batch(conn, _batch(_file(tmp_path, "a.csv", [_line(n) for n in range(1, 4)]), "a.csv"))
    first = _ledger(conn, "a.csv")[0]
    changed = _file(tmp_path, "a2.csv", [_line(n) for n in range(1, 3)])
    result = land_batch(conn, dataclasses.replace(_batch(changed, "a.csv")))
    assert result.status == "landed" and _ledger(conn, "a.csv")[0] != first
    assert [r[0] for r in _landed(conn, "a.csv")] == [1, 2]
    assert land_batch(conn, _batch(changed, "a.csv")).status == "skipped"

    files = {f"c{i}.csv": _file(tmp_path, f"c{i}.csv", [_line(n) for n in range(1, 2001)]) for i in range(3)}

    def land(ref: str) -> int:
        with connect(warehouse, autocommit=True) as own:
            return land_batch(own, _batch(files[ref], ref)).rows_landed

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(land, files)) == [2000] * 3
    for ref in files:
        assert [r[0] for r in _landed(conn, ref)] == list(range(1, 2001))
        assert [int(r[1][1:]) for r in _landed(conn, ref)] == list(range(1, 2001))

"""The COPY fast path of a Parquet batch: Arrow writes the declared columns as CSV, COPY lands them.

Checked against the row path (the reference, every value through Python): the same rows land with
the same row numbers and values, the same rows are quarantined with the same reasons; a value not of
its type falls back to the stage; drift is reported or refused as for CSV files.
"""

import dataclasses
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telco_dw.errors import UserError
from telco_dw.load.batch import land_batch
from telco_dw.load.parquetfile import parquet_batch
from telco_dw.sources.network.schema import SUBSCRIBER_EXPERIENCE_DAILY as TABLE
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration

DECLARED = ", ".join(TABLE.column_names)
REF = "parquet-copy/"


def _columns(rows: int = 500) -> dict[str, list]:
    return {
        "usage_date": [date(2026, 10, 1 + n % 28) for n in range(rows)],
        "msisdn": [f"138{n:08d}" for n in range(rows)],
        "imsi": [f"46000{n:010d}" for n in range(rows)],
        "imei": [f"86{n:013d}" for n in range(rows)],
        "serving_cell_id": [f"CELL{n % 90:05d}" for n in range(rows)],
        "volume_mb": [n * 1.25 for n in range(rows)],
        "avg_dl_mbps": [50 + n % 300 + 0.33 for n in range(rows)],
        "avg_rsrp_dbm": [-80.5 - n % 40 for n in range(rows)],
    }


def _write(tmp_path: Path, name: str, columns: dict[str, list], schema: pa.Schema | None = None) -> Path:
    path = tmp_path / name
    pq.write_table(pa.table(columns, schema=schema), path, row_group_size=128)  # several record groups
    return path


def _batch(path: Path):
    return parquet_batch(TABLE, REF + path.name, lambda: path.open("rb"), checksum=path.name, size_bytes=1)


@pytest.fixture
def conn(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        yield conn
        conn.execute(f"delete from {TABLE.qualified} where _source_file like '{REF}%'")
        conn.execute(f"delete from quarantine.network where source_ref like '{REF}%'")
        conn.execute(f"delete from audit.load_batches where source_file like '{REF}%'")


def _outcome(conn, ref: str) -> tuple[list, list, tuple]:
    landed = conn.execute(
        f"select _row_number, {DECLARED} from {TABLE.qualified} where _source_file = %s order by 1", (ref,)
    ).fetchall()
    quarantined = conn.execute(
        "select row_number, reason from quarantine.network where source_ref = %s order by 1", (ref,)
    ).fetchall()
    ledger = conn.execute(
        "select rows_read, rows_landed, rows_quarantined from audit.load_batches where source_file = %s", (ref,)
    ).fetchone()
    return landed, quarantined, ledger


def test_a_parquet_file_lands_through_copy_as_the_row_path_lands_it(conn, paths, tmp_path):
    columns = _columns()
    columns["avg_rsrp_dbm"][6] = -200.5  # out of range
    columns["imsi"][41] = None  # required
    columns["volume_mb"][300] = None  # optional
    columns["pci"] = list(range(500))  # additive drift
    fast_file = _write(tmp_path, "fast.parquet", columns)
    rows_file = _write(tmp_path, "rows.parquet", columns)

    fast = land_batch(conn, _batch(fast_file))
    assert paths == ["stage", "fast"]  # landed by the typed COPY; the file staged as text for the reasons
    paths.clear()
    reference = land_batch(conn, dataclasses.replace(_batch(rows_file), csv=None))
    assert paths == ["rows"]

    landed, quarantined, ledger = _outcome(conn, REF + "fast.parquet")
    assert (landed, quarantined, ledger) == _outcome(conn, REF + "rows.parquet")
    assert ledger == (500, 498, 2)
    assert quarantined == [
        (7, "avg_rsrp_dbm: -200.5 out of range (must be between -156 and -31)"),
        (42, "imsi: required value missing"),
    ]
    assert [row[0] for row in landed] == [n for n in range(1, 501) if n not in (7, 42)]
    assert fast.notes == reference.notes == {"extra_columns": ["pci"]}


def test_a_value_not_of_its_type_is_quarantined_through_the_stage(conn, paths, tmp_path):
    columns = _columns(300)
    columns["volume_mb"] = [str(v) for v in columns["volume_mb"]]  # retyped to text in the export
    columns["volume_mb"][9] = "lots"
    result = land_batch(conn, _batch(_write(tmp_path, "retyped.parquet", columns)))
    assert paths == ["stage"]  # the typed COPY refused the file
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (300, 299, 1)
    _, quarantined, _ = _outcome(conn, REF + "retyped.parquet")
    assert quarantined == [(10, "volume_mb: 'lots' is not a valid numeric(12,2)")]


def test_a_missing_declared_column_fails_the_file_before_landing(conn, tmp_path):
    columns = _columns(10)
    columns["rsrp"] = columns.pop("avg_rsrp_dbm")
    path = _write(tmp_path, "renamed.parquet", columns)
    with pytest.raises(UserError, match=r"schema drift.*avg_rsrp_dbm.*renamed\.parquet|renamed\.parquet.*avg_rsrp_dbm"):
        _batch(path)


def test_a_nested_column_takes_the_row_path(conn, paths, tmp_path):
    columns = _columns(20)
    columns["serving_cell_id"] = [[cell] for cell in columns["serving_cell_id"]]  # a list per day
    batch = _batch(_write(tmp_path, "nested.parquet", columns))
    assert batch.csv is None
    result = land_batch(conn, batch)
    assert paths == ["rows"] and result.rows_landed == 20

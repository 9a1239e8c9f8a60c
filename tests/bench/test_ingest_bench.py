"""How fast a CSV file lands, side by side (issue: ingestion). `make bench` only.

One generated billing invoice-line CSV (the columns of ``raw_billing.invoice_lines``) per size, each
arm in a fresh interpreter (``benchlib.measure``: wall time, the child's own peak RSS):

- ``telco-dw loader``: ``load.csvfile.file_batch`` + ``load.batch.land_batch`` into the raw table
  (SHA-256 of the file, COPY into the typed columns with the checks as its ``where``, metadata from
  column defaults, ledger row), at 1M and 5M rows;
- ``psql \\copy``: the same file into a plain table of the declared types (no checks, no metadata),
  at 1M and 5M rows: the limit;
- ``psql \\copy into the raw table``: the same file into ``raw_billing.invoice_lines`` itself, its
  metadata filled by the table's defaults (the batch settings set for the session, the row-number
  sequence, the BRIN index kept), at 1M and 5M rows: the same rows the loader lands, without its checks,
  quarantine and ledger; the limit for landing this file in the raw table;
- ``pandas.to_sql``: ``read_csv(parse_dates=["updated_at"])`` then ``to_sql`` with the default
  method (one ``executemany`` per chunk of 10,000; ``method="multi"`` measured 10x slower here);
- ``PostgresHook.insert_rows``: rows from ``csv.reader``, ``executemany=True``, ``commit_every=10000``.

The pandas and hook arms run on the 5M-row file, as the issue states the comparison (about two
minutes each here), next to the loader on the same file in the same test. Everything lands in a scratch
database ``telco_dw_bench`` on the test server, dropped at the end. Peak RSS is the client's: the
PostgreSQL server's memory is not in it. Goals (the ingestion issue): loader >= 0.9x psql rows/s,
>= 10x pandas, peak RSS < 300 MB and flat from 1M to 5M rows; recorded with each figure. The rows/s
ratio is recorded against both psql arms: the plain table holds half the bytes per row (no metadata).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from benchlib import measure, record

pytestmark = pytest.mark.bench

SIZES = [1_000_000, 5_000_000]
DATABASE = "telco_dw_bench"
RAW = "raw_billing.invoice_lines"
COLUMNS = ("line_id", "invoice_id", "line_type", "amount_excl_tax", "updated_at")
TYPED = "line_id text, invoice_id text, line_type text, amount_excl_tax numeric(12,2), updated_at timestamptz"
RAW_SETTINGS = (
    "select set_config('telco_dw.batch_id', gen_random_uuid()::text, false), "
    "set_config('telco_dw.source_file', 'bench/' || md5(random()::text) || '.csv', false)"
)
"""A batch's metadata settings for a psql session, as long as the loader's (see ``load.ddl``)."""

LOADER = """
import hashlib, json, os, time, uuid
import psycopg
from telco_dw.load.batch import land_batch
from telco_dw.load.csvfile import file_batch
from telco_dw.sources.billing.schema import INVOICE_LINES
path, url = os.environ["BENCH_FILE"], os.environ["BENCH_URL"]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("truncate raw_billing.invoice_lines, quarantine.billing")
    conn.execute("delete from audit.load_batches where source = 'billing'")
    started = time.monotonic()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    batch = file_batch(INVOICE_LINES, "bench/" + uuid.uuid4().hex + ".csv", lambda: open(path, "rb"),
                       checksum=digest.hexdigest(), size_bytes=os.path.getsize(path))
    result = land_batch(conn, batch)
    seconds = time.monotonic() - started
    count = conn.execute("select count(*) from raw_billing.invoice_lines").fetchone()[0]
    conn.execute("truncate raw_billing.invoice_lines")
print(json.dumps({"rows": result.rows_landed, "quarantined": result.rows_quarantined, "in_table": count,
                  "load_s": round(seconds, 2)}))
"""

PSQL = """
import json, os, subprocess, time
path, url, psql = os.environ["BENCH_FILE"], os.environ["BENCH_URL"], os.environ["BENCH_PSQL"]
table = os.environ.get("BENCH_TABLE", "bench.lines_copy")
columns = "(line_id, invoice_id, line_type, amount_excl_tax, updated_at)"
subprocess.run([psql, url, "-qc", f"truncate {table}"], check=True)
started = time.monotonic()
done = subprocess.run([psql, url, "-q", "-c", os.environ.get("BENCH_SETTINGS", "select"),
                       "-c", f"\\\\copy {table} {columns} from '{path}' with (format csv, header true)"],
                      check=True, capture_output=True, text=True)
seconds = time.monotonic() - started
count = int(subprocess.run([psql, url, "-tAc", f"select count(*) from {table}"], check=True,
                           capture_output=True, text=True).stdout)
subprocess.run([psql, url, "-qc", f"truncate {table}"], check=True)
print(json.dumps({"rows": count, "in_table": count, "load_s": round(seconds, 2)}))
"""

PANDAS = """
import json, os, time
import pandas as pd
import sqlalchemy as sa
path, url = os.environ["BENCH_FILE"], os.environ["BENCH_URL"]
engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
with engine.begin() as conn:
    conn.exec_driver_sql("truncate bench.lines_pandas")
started = time.monotonic()
frame = pd.read_csv(path, parse_dates=["updated_at"])
frame.to_sql("lines_pandas", engine, schema="bench", if_exists="append", index=False, chunksize=10_000)
seconds = time.monotonic() - started
with engine.begin() as conn:
    count = conn.exec_driver_sql("select count(*) from bench.lines_pandas").scalar()
    conn.exec_driver_sql("truncate bench.lines_pandas")
print(json.dumps({"rows": len(frame), "in_table": count, "load_s": round(seconds, 2)}))
"""

HOOK = """
import csv, json, logging, os, time
os.environ["AIRFLOW_CONN_BENCH_WAREHOUSE"] = os.environ["BENCH_URL"]
logging.disable(logging.INFO)
from airflow.providers.postgres.hooks.postgres import PostgresHook
path = os.environ["BENCH_FILE"]
hook = PostgresHook(postgres_conn_id="bench_warehouse")
hook.run("truncate bench.lines_hook", autocommit=True)
started = time.monotonic()
with open(path, newline="", encoding="utf-8") as handle:
    reader = csv.reader(handle)
    fields = next(reader)
    hook.insert_rows("bench.lines_hook", reader, target_fields=fields, commit_every=10_000, executemany=True)
seconds = time.monotonic() - started
count = hook.get_first("select count(*) from bench.lines_hook")[0]
hook.run("truncate bench.lines_hook", autocommit=True)
print(json.dumps({"rows": count, "in_table": count, "load_s": round(seconds, 2),
                  "driver": type(hook.get_conn()).__module__.split(".")[0]}))
"""


def _write_lines(path: Path, rows: int) -> None:
    """``rows`` invoice lines with the declared columns: three lines per invoice, amounts in CNY."""
    kinds = ("plan_fee", "data_overage", "voice", "vas", "discount")
    rng = random.Random(4)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(COLUMNS) + "\n")
        chunk: list[str] = []
        for n in range(1, rows + 1):
            kind = kinds[n % 5]
            cents = rng.randrange(1, 30_000) * (-1 if kind == "discount" else 1)
            chunk.append(
                f"L{n:09d},I{(n + 2) // 3:08d},{kind},{cents / 100:.2f},"
                f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{n * 7 % 60:02d}Z\n"
            )
            if len(chunk) == 100_000:
                handle.write("".join(chunk))
                chunk = []
        handle.write("".join(chunk))


def _psql() -> str:
    from telco_dw.warehouse.embedded import _bin

    bundled = _bin("psql")
    return str(bundled) if bundled.exists() else (shutil.which("psql") or pytest.skip("no psql found"))


@pytest.fixture(scope="module")
def bench_url(warehouse):
    from psycopg import sql

    from telco_dw.load import ddl
    from telco_dw.warehouse.connection import connect, ensure_database, warehouse_url

    ensure_database(warehouse, DATABASE, "or run the benchmark against the embedded test server")
    with connect(warehouse, DATABASE, autocommit=True) as conn:
        ddl.ensure_all(conn)
        conn.execute("create schema if not exists bench")
        for name in ("lines_copy", "lines_pandas", "lines_hook"):
            conn.execute(f"create table if not exists bench.{name} ({TYPED})")
    yield warehouse_url(warehouse, DATABASE)
    with connect(warehouse, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The generated files by row count."""
    folder = tmp_path_factory.mktemp("ingest_bench")
    out = {}
    for rows in SIZES:
        out[rows] = folder / f"invoice_lines_{rows}.csv"
        _write_lines(out[rows], rows)
    return out


def _arm(code: str, path: Path, url: str, expected: int, **env: str) -> dict[str, object]:
    env = {"BENCH_FILE": str(path), "BENCH_URL": url, "BENCH_PSQL": _psql(), **env}
    figures: dict[str, object] = dict(measure(code, env))
    assert figures["rows"] == figures["in_table"] == expected, figures
    seconds = float(figures["load_s"])  # type: ignore[arg-type]
    figures["rows_per_s"] = round(expected / seconds)
    figures["mb_per_s"] = round(os.path.getsize(path) / seconds / 1e6, 1)
    figures["file_mb"] = round(os.path.getsize(path) / 1e6, 1)
    return figures


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def test_loader_vs_psql_copy_at_1m_and_5m(bench_url, files):
    loader_rss = {}
    for rows in SIZES:
        psql = _arm(PSQL, files[rows], bench_url, rows)
        record(f"ingest {_label(rows)} invoice lines: psql \\copy (the limit)", psql)
        raw = _arm(PSQL, files[rows], bench_url, rows, BENCH_TABLE=RAW, BENCH_SETTINGS=RAW_SETTINGS)
        record(f"ingest {_label(rows)} invoice lines: psql \\copy into the raw table (no checks, no ledger)", raw)
        loader = _arm(LOADER, files[rows], bench_url, rows)
        assert loader["quarantined"] == 0
        ratio, ratio_raw = (round(float(loader["rows_per_s"]) / float(arm["rows_per_s"]), 2) for arm in (psql, raw))  # type: ignore[arg-type]
        loader.update(
            vs_psql=ratio, vs_psql_raw_table=ratio_raw, goal="vs_psql >= 0.9, peak_rss_mb < 300", goal_met=ratio >= 0.9
        )
        record(f"ingest {_label(rows)} invoice lines: telco-dw loader", loader)
        loader_rss[rows] = float(loader["peak_rss_mb"])  # type: ignore[arg-type]
    assert max(loader_rss.values()) < 300, loader_rss  # streamed: memory does not grow with the file
    assert loader_rss[SIZES[-1]] < loader_rss[SIZES[0]] * 1.25 + 10, loader_rss
    # the throughput goal (vs_psql >= 0.9) is recorded with goal_met, not asserted: see docs/ingestion.md


def test_what_users_reach_for_on_the_5m_file(bench_url, files):
    rows = SIZES[-1]
    path = files[rows]
    label = f"ingest {_label(rows)} invoice lines, what users reach for"
    loader = _arm(LOADER, path, bench_url, rows)
    pandas = _arm(PANDAS, path, bench_url, rows)
    record(f"{label}: pandas.to_sql (default method, chunksize 10000)", pandas)
    hook = _arm(HOOK, path, bench_url, rows)
    record(f"{label}: PostgresHook.insert_rows (executemany, commit_every 10000)", hook)
    ratio = round(float(loader["rows_per_s"]) / float(pandas["rows_per_s"]), 1)  # type: ignore[arg-type]
    loader.update(vs_pandas=ratio, goal="vs_pandas >= 10", goal_met=ratio >= 10)
    record(f"{label}: telco-dw loader", loader)  # recorded, not asserted: the goals are read from the table

"""A load killed midway (SIGKILL while its COPY streams) leaves nothing of its batch visible, and the
next attempt lands the whole batch once."""

import os
import signal
import subprocess
import sys
import time

import pytest

from telco_dw.load.batch import land_batch
from telco_dw.load.csvfile import file_batch
from telco_dw.sources.billing.schema import INVOICE_LINES
from telco_dw.warehouse.connection import connect, warehouse_url

pytestmark = pytest.mark.integration

ROWS = 1_000_000
REF = "billing/dt=2026-10-01/invoice_lines-killed-test.csv"
APP = "telco-dw-killed-load-test"

LOAD = f"""
import hashlib, os, psycopg
from telco_dw.load.batch import land_batch
from telco_dw.load.csvfile import file_batch
from telco_dw.sources.billing.schema import INVOICE_LINES
path = os.environ["KILL_FILE"]
digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
with psycopg.connect(os.environ["KILL_URL"], autocommit=True, application_name="{APP}") as conn:
    land_batch(conn, file_batch(INVOICE_LINES, "{REF}", lambda: open(path, "rb"), checksum=digest,
                                size_bytes=os.path.getsize(path)))
"""


def _file(path):
    with path.open("w") as out:
        out.write("line_id,invoice_id,line_type,amount_excl_tax,updated_at\n")
        for i in range(ROWS):
            out.write(f"I{i:07d}202610-1,I{i:07d}202610,plan_fee,59.00,2026-10-01T02:00:00Z\n")
    return path


def _visible(conn):
    batches = conn.execute("select count(*) from audit.load_batches where source_file = %s", (REF,)).fetchone()[0]
    rows = conn.execute("select count(*) from raw_billing.invoice_lines where _source_file = %s", (REF,)).fetchone()[0]
    return batches, rows


def test_a_killed_load_leaves_nothing_and_the_retry_lands_it_whole(warehouse, tmp_path):
    path = _file(tmp_path / "lines.csv")
    with connect(warehouse, autocommit=True) as conn:
        conn.execute("delete from raw_billing.invoice_lines where _source_file = %s", (REF,))
        conn.execute("delete from audit.load_batches where source_file = %s", (REF,))
        env = {**os.environ, "KILL_FILE": str(path), "KILL_URL": warehouse_url(warehouse)}
        child = subprocess.Popen([sys.executable, "-c", LOAD], env=env)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and child.poll() is None:  # wait for its COPY to stream
                copying = conn.execute(
                    "select count(*) from pg_stat_progress_copy p join pg_stat_activity a using (pid) "
                    "where a.application_name = %s and p.tuples_processed > 0",
                    (APP,),
                ).fetchone()[0]
                if copying:
                    break
                time.sleep(0.01)
            assert child.poll() is None, "the load finished before it could be killed: make the file bigger"
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait()
        while conn.execute("select count(*) from pg_stat_activity where application_name = %s", (APP,)).fetchone()[0]:
            time.sleep(0.05)  # the server aborts the dead client's transaction
        assert _visible(conn) == (0, 0)

        result = land_batch(
            conn,
            file_batch(INVOICE_LINES, REF, lambda: path.open("rb"), checksum="retry", size_bytes=path.stat().st_size),
        )
        assert (result.status, result.rows_read, result.rows_landed) == ("landed", ROWS, ROWS)
        assert _visible(conn) == (1, ROWS)
        conn.execute("delete from raw_billing.invoice_lines where _source_file = %s", (REF,))
        conn.execute("delete from audit.load_batches where source_file = %s", (REF,))

"""Bad input ends in one clear line saying what is wrong and what to do, not a stack trace."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
CLI = str(Path(sys.executable).with_name("telco-dw"))


def _run(*args, **env):
    full = {**os.environ, **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=full, timeout=120)


def _one_error_line(done):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


def test_bad_warehouse_url_scheme(tmp_path):
    line = _one_error_line(_run("summary", WAREHOUSE_URL="mysql://root@localhost/dw", TELCO_DW_HOME=str(tmp_path)))
    assert "WAREHOUSE_URL" in line and "postgresql://" in line


def test_unreachable_warehouse(tmp_path):
    line = _one_error_line(
        _run("summary", WAREHOUSE_URL="postgresql://nobody@127.0.0.1:1/telco_dw", TELCO_DW_HOME=str(tmp_path))
    )
    assert "cannot connect to the warehouse at nobody@127.0.0.1:1/telco_dw" in line
    assert "check WAREHOUSE_URL" in line


def test_warehouse_never_started(tmp_path):
    line = _one_error_line(_run("warehouse", "url", TELCO_DW_HOME=str(tmp_path)))
    assert "telco-dw warehouse start" in line


def test_unreachable_source_folder(warehouse, tmp_path):
    line = _one_error_line(_run("ingest", "network", LANDING_URL=str(tmp_path / "missing")))
    assert str(tmp_path / "missing") in line and "telco-dw sources serve" in line


def test_unreachable_crm_api(warehouse):
    done = _run("ingest", "crm", "--end", "2026-10-02", CRM_API_URL="http://127.0.0.1:1", CRM_API_TOKEN="t")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    *progress, line = [x for x in done.stderr.splitlines() if x.strip()]
    assert progress and all("WARNING" in p and "retry" in p for p in progress)  # each retry is reported
    assert line.startswith("error: the CRM API at http://127.0.0.1:1/v1/customers still failed after 6 attempts")


def test_taken_port(tmp_path):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        line = _one_error_line(_run("warehouse", "start", TELCO_DW_HOME=str(tmp_path), WAREHOUSE_PORT=str(port)))
    assert f"port {port}" in line and "in use" in line


def test_missing_dependency_is_one_line(tmp_path):
    # Run the CLI in an interpreter where `psycopg` cannot be imported.
    code = "import sys; sys.modules['psycopg'] = None\nfrom telco_dw.cli import main; main(['summary'])\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WAREHOUSE_URL": "postgresql://x@127.0.0.1:1/dw", "TELCO_DW_HOME": str(tmp_path)},
    )
    line = _one_error_line(done)
    assert "psycopg" in line and "make demo" in line


def test_a_too_old_postgresql_is_named(tmp_path):
    """WAREHOUSE_URL pointing at PostgreSQL < 16 (this machine kind runs 15 on 5432) says what is needed."""
    import psycopg

    url = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            version = int(conn.execute("show server_version_num").fetchone()[0])
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 to try")
    if version >= 160000:
        pytest.skip("the PostgreSQL on 5432 is new enough")
    line = _one_error_line(_run("ingest", "network", WAREHOUSE_URL=url, TELCO_DW_HOME=str(tmp_path)))
    assert "needs 16 or newer" in line


def test_check_export_reports_what_would_land_and_names_rejects(tmp_path):
    outbox = tmp_path / "outbox"
    done = _run("simulate", "--customers", "300", "--days", "1", "--out", str(outbox), "--dirty-rate", "0.05")
    assert done.returncode == 0, done.stderr
    export = outbox / "crm" / "export" / "customers_export.csv"
    done = _run("sources", "check-export", str(export), TELCO_DW_HOME=str(tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    head = done.stdout.splitlines()[0]
    rows, land, rejected = (int(w) for w in re.findall(r"(\d+) (?:rows|would land|rejected)", head))
    records = len(export.read_bytes().splitlines()) - 1  # no field spans lines in the simulator's export
    assert rows == records and land + rejected == rows and rejected > 0, done.stdout
    assert re.search(r"row \d+ \(line \d+\)", done.stdout), done.stdout  # rejects name where they are


def test_check_export_without_an_export_says_what_to_do(tmp_path):
    line = _one_error_line(_run("sources", "check-export", TELCO_DW_OUTBOX=str(tmp_path / "none")))
    assert "run `telco-dw simulate` first" in line


def test_report_before_the_marts_are_built_says_to_run_the_pipeline(warehouse, tmp_path):
    import psycopg

    from telco_dw.privacy import roles
    from telco_dw.warehouse.connection import connect, warehouse_url

    name = "telco_dw_report_unbuilt"
    with connect(warehouse, "postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    try:
        url = warehouse_url(warehouse, name)
        with psycopg.connect(url) as conn, conn.transaction():
            roles.apply(conn)  # bi_reader may read schema marts, which holds no table yet
        line = _one_error_line(_run("report", WAREHOUSE_URL=url, TELCO_DW_HOME=str(tmp_path)))
    finally:
        with connect(warehouse, "postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    assert "the marts are not built" in line and "telco-dw run" in line

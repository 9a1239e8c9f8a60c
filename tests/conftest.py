"""Shared fixtures. Tests run against a real PostgreSQL: by default an embedded server of their own
under ``.local/test`` (separate from the demo's), or the server in ``TELCO_DW_TEST_WAREHOUSE_URL``.

`make test` runs the test files on two pytest-xdist workers (``-n 2 --dist loadfile``: a file's tests
stay together, with its module fixtures): each worker has a home of its own, ``.local/test/<worker>``
(its embedded server, Airflow home, dbt target, landing folder), so the two never share a database.
A server given by URL would be shared: against one, the tests run in one process (``-n 0``;
``pytest_configure`` refuses workers).

The environment is fixed here, before any ``telco_dw`` or Airflow import reads it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under pytest-xdist
TEST_HOME = REPO / ".local" / "test" / (WORKER or "")

os.environ["TELCO_DW_HOME"] = str(TEST_HOME)
for _var in (
    "AIRFLOW_HOME",
    "LANDING_URL",
    "DBT_TARGET_PATH",
    "TELCO_DW_DOCS",
    "TELCO_DW_SECRETS_FILE",
    "WAREHOUSE_PORT",
    "PII_TOKEN_KEY",
):
    os.environ.pop(_var, None)
if os.environ.get("TELCO_DW_TEST_WAREHOUSE_URL"):
    os.environ["WAREHOUSE_URL"] = os.environ["TELCO_DW_TEST_WAREHOUSE_URL"]
else:
    os.environ.pop("WAREHOUSE_URL", None)
sys.path.insert(0, str(REPO / "plugins"))

from telco_dw import config  # noqa: E402
from telco_dw.errors import UserError  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TELCO_DW_TEST_WAREHOUSE_URL") and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "TELCO_DW_TEST_WAREHOUSE_URL is set: pytest-xdist's workers would share that server's databases; "
            "run the tests in one process (make test TEST_WORKERS=0, or pytest -n 0)"
        )


@pytest.fixture(scope="session")
def cfg() -> config.Config:
    return config.load()


@pytest.fixture(scope="session")
def warehouse(cfg: config.Config) -> Iterator[config.Config]:
    """The test warehouse, started (embedded) and holding the raw and audit schemas."""
    from telco_dw.load import ddl
    from telco_dw.warehouse import embedded
    from telco_dw.warehouse.connection import connect

    if cfg.embedded:
        embedded.start(cfg)
    with connect(cfg, autocommit=True) as conn:
        try:
            with conn.transaction():
                ddl.ensure_all(conn)
        except UserError as exc:  # the test server was built by an older checkout: it is ours to rebuild
            if "another version" not in str(exc):
                raise
            ddl.reset(conn)
            with conn.transaction():
                ddl.ensure_all(conn)
    yield cfg


@pytest.fixture(scope="session")
def warehouse_url(warehouse: config.Config) -> str:
    from telco_dw.warehouse.connection import warehouse_url as url

    return url(warehouse)


@pytest.fixture(scope="session")
def airflow_db(warehouse: config.Config) -> config.Config:
    """Airflow's metadata database, migrated once per session."""
    from telco_dw import orchestrate

    orchestrate.migrate(warehouse)
    return warehouse


@pytest.fixture(scope="session")
def dbt_manifest(warehouse: config.Config) -> Path:
    """dbt's manifest.json, which the transform DAG renders from: rebuilt (`dbt parse`) when missing or
    older than the dbt project, as `telco-dw manifest --if-stale` would."""
    from telco_dw.transform import manifest
    from telco_dw.warehouse.connection import warehouse_url as url

    manifest.ensure(warehouse, url(warehouse))
    return manifest.checked(warehouse)


@pytest.fixture(scope="module")
def airflow_env(airflow_db: config.Config, dbt_manifest: Path) -> Iterator[config.Config]:
    """Airflow's environment in this process for one test module (restored afterwards, so it does not
    leak into other modules' subprocesses), with the metadata database migrated and the dbt manifest built."""
    from telco_dw import airflow_env as env_mod

    with pytest.MonkeyPatch.context() as patch:
        for key, value in env_mod.environment(airflow_db).items():
            patch.setenv(key, value)
        yield airflow_db


@pytest.fixture(scope="session")
def landed_world(warehouse: config.Config):
    """A factory: ``with landed_world(name, outbox, end, landing) as url:`` lands every source of the
    simulated world in ``outbox`` (billing applied through ``end``, files delivered a week past it for
    the late ones, CRM through its API) into fresh databases ``name`` and ``name``_billing on the test
    server, yields the warehouse database's URL, and drops both afterwards."""
    from contextlib import contextmanager

    import psycopg
    from worlds import land_world

    from telco_dw.warehouse.connection import connect, warehouse_url

    def recreate(name: str) -> None:
        with connect(warehouse, "postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            try:
                conn.execute(f'create database "{name}"')
            except psycopg.errors.InsufficientPrivilege:
                pytest.skip(f"the test server does not let us create database {name}")

    @contextmanager
    def land(name: str, outbox: Path, end, landing: Path) -> Iterator[str]:
        names = (name, f"{name}_billing")
        for each in names:
            recreate(each)
        url, billing_url = warehouse_url(warehouse, names[0]), warehouse_url(warehouse, names[1])
        try:
            land_world(url, billing_url, outbox, end, landing)
            yield url
        finally:
            with connect(warehouse, "postgres", autocommit=True) as conn:
                for each in names:
                    conn.execute(f'drop database if exists "{each}" with (force)')

    return land


class Webhook:
    """An HTTP server on 127.0.0.1 keeping the JSON bodies POSTed to it (an alert target)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def _rows_holding(conn, needles: list[str], schemas: list[str]) -> dict[str, int]:
    """Rows of every table and view in ``schemas`` whose text (the whole row) holds any needle."""
    found = {}
    for schema, table in conn.execute(
        "select table_schema, table_name from information_schema.tables where table_schema = any(%s) order by 1, 2",
        (schemas,),
    ).fetchall():
        n = conn.execute(
            f'select count(*) from {schema}."{table}" t where exists (select from unnest(%s::text[]) v '
            "where strpos(t::text, v) > 0)",
            (needles,),
        ).fetchone()[0]
        if n:
            found[f"{schema}.{table}"] = n
    return found


@pytest.fixture(scope="session")
def rows_holding():
    """``rows_holding(conn, needles, schemas)``: where personal values (or tokens) still are, by table."""
    return _rows_holding


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless-capable Chromium: the path of its binary, installed with apt-get when missing.

    Fails (never skips) when it is missing and cannot be installed, saying what to run.
    """
    import shutil
    import subprocess

    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail("the browser tests need Debian's chromium: run `sudo apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get may hold the lock for a while
    for command in (["apt-get", *lock, "update"], ["apt-get", *lock, "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                f"installing chromium failed: `{' '.join(command)}` exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()[-500:]}; install it yourself (apt-get install -y chromium)"
            )
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("apt-get installed chromium but no `chromium` is on PATH: check the package")
    return found

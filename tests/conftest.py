"""Shared fixtures. Tests run against a real PostgreSQL: by default an embedded server of their own
under ``.local/test`` (separate from the demo's), or the server in ``TELCO_DW_TEST_WAREHOUSE_URL``.

The environment is fixed here, before any ``telco_dw`` or Airflow import reads it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = REPO / ".local" / "test"

os.environ["TELCO_DW_HOME"] = str(TEST_HOME)
for _var in (
    "AIRFLOW_HOME",
    "LANDING_URL",
    "DBT_TARGET_PATH",
    "TELCO_DW_DOCS",
    "TELCO_DW_SECRETS_FILE",
    "WAREHOUSE_PORT",
):
    os.environ.pop(_var, None)
if os.environ.get("TELCO_DW_TEST_WAREHOUSE_URL"):
    os.environ["WAREHOUSE_URL"] = os.environ["TELCO_DW_TEST_WAREHOUSE_URL"]
else:
    os.environ.pop("WAREHOUSE_URL", None)
sys.path.insert(0, str(REPO / "plugins"))

from telco_dw import config  # noqa: E402
from telco_dw.errors import UserError  # noqa: E402


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

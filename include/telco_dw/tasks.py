"""What the DAGs' tasks do, as plain functions: Airflow context in, library calls out.

DAG files import this module only inside task bodies, so parsing stays cheap. Credentials come from
the Airflow connection ``telco_warehouse`` (provisioned from configuration, see
:mod:`telco_dw.airflow_env`); paths come from :mod:`telco_dw.config`.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from telco_dw import config
from telco_dw.airflow_env import WAREHOUSE_CONN_ID

log = logging.getLogger(__name__)


def warehouse_url_from_connection(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The libpq URL of an Airflow connection (scheme normalised to ``postgresql://``)."""
    from airflow.sdk import Connection

    uri: str = Connection.get(conn_id).get_uri()
    scheme, _, rest = uri.partition("://")
    return f"postgresql://{rest}" if scheme in ("postgres", "postgresql") else uri


def land(source: str, data_interval_end: datetime | date | None) -> dict[str, Any]:
    """Land every file of ``source`` whose day ended by the end of the data interval (``dt < end``)."""
    import psycopg

    from telco_dw.load.landing import land_source

    before = data_interval_end.date() if isinstance(data_interval_end, datetime) else data_interval_end
    cfg = config.load()
    with psycopg.connect(warehouse_url_from_connection(), autocommit=True) as conn:
        results = land_source(conn, cfg.landing, source, before=before)
    landed = [r for r in results if r.status == "landed"]
    summary = {
        "source": source,
        "files_seen": len(results),
        "files_landed": len(landed),
        "rows_landed": sum(r.rows_landed for r in landed),
    }
    log.info("ingest %s: %s", source, summary)
    return summary


def dbt_build() -> None:
    """Build and test every dbt model against the warehouse of the Airflow connection."""
    from telco_dw.transform import dbt

    dbt.run(["build"], warehouse_url_from_connection())

"""What the DAGs' tasks do, as plain functions: Airflow context in, library calls out.

DAG files import this module only inside task bodies, so parsing stays cheap. Credentials come from
the Airflow connection ``telco_warehouse`` (provisioned from configuration, see
:mod:`telco_dw.airflow_env`); paths come from :mod:`telco_dw.config`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from telco_dw import config
from telco_dw.airflow_env import BILLING_CONN_ID, CRM_CONN_ID, WAREHOUSE_CONN_ID
from telco_dw.load.landing import Endpoints

log = logging.getLogger(__name__)


def warehouse_url_from_connection(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The libpq URL of an Airflow connection (scheme normalised to ``postgresql://``)."""
    from airflow.sdk import Connection

    uri: str = Connection.get(conn_id).get_uri()
    scheme, _, rest = uri.partition("://")
    return f"postgresql://{rest}" if scheme in ("postgres", "postgresql") else uri


def endpoints_from_connections(source: str) -> Endpoints:
    """Where ``source`` is: the landing folder, or the Airflow connection ``crm_api`` / ``billing_source``.

    Only the source's own connection is read, so file sources run without the CRM API or billing defined.
    """
    from airflow.sdk import Connection

    landing = config.load().landing
    if source == "crm":
        crm = Connection.get(CRM_CONN_ID)
        scheme = "https" if (crm.extra_dejson or {}).get("https") else "http"
        return Endpoints(landing, crm_url=f"{scheme}://{crm.host}:{crm.port}", crm_token=crm.password)
    if source == "billing":
        return Endpoints(landing, billing_url=warehouse_url_from_connection(BILLING_CONN_ID))
    return Endpoints(landing)


def land(source: str, data_interval_end: datetime | date) -> dict[str, Any]:
    """Land what ``source`` has for the data interval ending at ``data_interval_end``."""
    import psycopg

    from telco_dw.load.landing import land_source

    with psycopg.connect(warehouse_url_from_connection(), autocommit=True) as conn:
        results = land_source(conn, source, endpoints_from_connections(source), data_interval_end)
    landed = [r for r in results if r.status == "landed"]
    summary = {
        "source": source,
        "batches_seen": len(results),
        "batches_landed": len(landed),
        "rows_read": sum(r.rows_read for r in landed),
        "rows_landed": sum(r.rows_landed for r in landed),
        "rows_quarantined": sum(r.rows_quarantined for r in landed),
        "drift": {r.source_ref: r.notes for r in landed if r.notes},
        "batch_ids": {table: [r.batch_id for r in landed if r.table == table] for table in {r.table for r in landed}},
    }
    log.info("ingest %s: %s", source, summary)
    return summary


def land_crm_export(export: str, mapping: str | None, as_of: datetime | date) -> dict[str, Any]:
    """Land the CRM bulk export ``export`` (mapping: ``mapping`` or mapping.yml beside it) as of ``as_of``.

    ``as_of`` is the run's data interval end, so a re-run of the same run lands nothing twice.
    """
    from pathlib import Path

    import psycopg

    from telco_dw.load.landing import land_crm_export as land_export

    path = Path(export)
    when = as_of if isinstance(as_of, datetime) else datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
    with psycopg.connect(warehouse_url_from_connection(), autocommit=True) as conn:
        result = land_export(conn, path, Path(mapping) if mapping else path.with_name("mapping.yml"), when)
    summary = {
        "source": "crm-export",
        "source_ref": result.source_ref,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_landed": result.rows_landed,
        "rows_quarantined": result.rows_quarantined,
        "notes": result.notes,
    }
    log.info("ingest crm export: %s", summary)
    return summary


def apply_retention() -> dict[str, int]:
    """Null raw personal values past their declared retention (see ``telco_dw.privacy.lifecycle``)."""
    import psycopg

    from telco_dw.config import load
    from telco_dw.privacy import catalogue, lifecycle

    with psycopg.connect(warehouse_url_from_connection()) as conn, conn.transaction():
        done = lifecycle.apply_retention(conn, catalogue.load(load().dbt_project))
    log.info("retention: %s rows affected (%s)", sum(done.values()), done)
    return done


PII_KEY_CONN_ID = "pii_token_key"
"""Optional Airflow connection whose password is the PII token key (hex); else ``PII_TOKEN_KEY``."""


def pii_key_from_connection() -> bytes:
    """The PII token key: the ``pii_token_key`` connection's password when defined, else the setting."""
    from airflow.sdk import Connection

    from telco_dw.privacy import tokens

    try:
        password = Connection.get(PII_KEY_CONN_ID).password
    except Exception:  # not defined: the environment (or the embedded run's generated key) has it
        password = None
    if password:
        return tokens.parse_key(password, f"the password of Airflow connection {PII_KEY_CONN_ID}")
    return tokens.key(config.load())


def prepare_privacy() -> dict[str, Any]:
    """Before dbt: refuse undeclared personal raw columns, hold the token key, apply the roles' grants."""
    import psycopg

    from telco_dw.privacy.prepare import prepare

    cfg = config.load()
    with psycopg.connect(warehouse_url_from_connection()) as conn, conn.transaction():
        declared, check = prepare(conn, cfg.dbt_project, pii_key_from_connection())
    log.info("privacy: %d personal columns declared, token key %s installed, roles granted", declared, check)
    return {"personal_columns": declared, "key_check_value": check}


def begin_build(run_id: str) -> dict[str, Any]:
    """Before dbt: record the build of the candidate marts, drop a candidate never published, and start
    the candidate's incremental facts from a copy of the published ones (``publish.begin``)."""
    import psycopg

    from telco_dw.transform import manifest
    from telco_dw.warehouse import publish

    incremental = manifest.incremental_marts(manifest.checked(config.load()))
    with psycopg.connect(warehouse_url_from_connection()) as conn, conn.transaction():
        dropped = publish.begin(conn, run_id, incremental)
    return {"run_id": run_id, "candidate_dropped": dropped}


def publish_marts(run_id: str) -> dict[str, Any]:
    """After the quality gate: swap the candidate into ``marts`` if its evidence passed, else refuse;
    once published, bring the candidate's incremental facts up to the published ones for the next
    run (``publish.prepare_next``).

    Raises ``AirflowFailException`` (no retry: the evidence will not change) naming what failed.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from telco_dw.quality import gate
    from telco_dw.transform import manifest
    from telco_dw.warehouse import publish

    incremental = manifest.incremental_marts(manifest.checked(config.load()))
    try:
        done = publish.publish_or_refuse(
            warehouse_url_from_connection(),
            run_id,
            gate.select(publish.GATE_SUITES, publish.CANDIDATE_SCHEMAS),
            incremental,
        )
    except publish.PublishRefused as refused:
        raise AirflowFailException(str(refused)) from None
    log.info("published run %s: %s", run_id, done.tables)
    return {"run_id": run_id, "tables": done.tables}

"""The environment every Airflow process of the project runs with, derived from :mod:`telco_dw.config`.

Airflow reads its configuration from ``AIRFLOW__SECTION__KEY`` variables and its connections from
``AIRFLOW_CONN_<ID>`` variables, so provisioning is this one mapping: no clicking in the UI, no
``airflow.cfg`` to edit. ``telco-dw airflow ...`` and ``make up`` run Airflow with it.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from telco_dw.config import Config, local_secrets
from telco_dw.warehouse.connection import sqlalchemy_url, warehouse_url

WAREHOUSE_CONN_ID = "telco_warehouse"
BILLING_CONN_ID = "billing_source"
CRM_CONN_ID = "crm_api"


def connection_json(libpq_url: str) -> str:
    """An ``AIRFLOW_CONN_<ID>`` value (JSON form) for a PostgreSQL URL."""
    parts = urlsplit(libpq_url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": parts.hostname,
            "port": parts.port or 5432,
            "login": parts.username or "",
            "password": parts.password or "",
            "schema": parts.path.lstrip("/"),
        }
    )


def environment(cfg: Config) -> dict[str, str]:
    """Variables to add to ``os.environ`` for any Airflow command or process of this project."""
    metadata = cfg.airflow_database_url or sqlalchemy_url(warehouse_url(cfg, "airflow"))
    from telco_dw.sources.endpoints import resolve

    endpoints = resolve(cfg)
    api_port = str(cfg.airflow_api_port)
    parallelism = os.environ.get("AIRFLOW__CORE__PARALLELISM", "4")
    env = {
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(cfg.dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(cfg.plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "AIRFLOW__CORE__PARALLELISM": parallelism,
        # CeleryExecutor only (docs/deploy.md): as many task slots per worker as the scheduler's
        # parallelism, not Celery's default of 16 forked pool processes
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(cfg.airflow_home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": api_port,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(cfg.airflow_home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",  # Cosmos reports usage to Astronomer unless told not to
        "AIRFLOW__COSMOS__CACHE_DIR": str(cfg.home / "cosmos"),  # per checkout, not a shared /tmp/cosmos
        # The watcher producer would otherwise rewrite an Airflow Variable holding all its XComs on every
        # XCom push (quadratic: the demo's transform took 93 s instead of 51 s). It still saves them
        # when it fails or is retried; only a killed producer loses them, and then each model's task
        # falls back to running its own dbt command.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "true",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": connection_json(warehouse_url(cfg)),
        f"AIRFLOW_CONN_{BILLING_CONN_ID.upper()}": connection_json(endpoints.billing_url or ""),
        "TELCO_DW_HOME": str(cfg.home),
        "LANDING_URL": str(cfg.landing),
    }
    if endpoints.crm_url:
        crm = urlsplit(endpoints.crm_url)
        env[f"AIRFLOW_CONN_{CRM_CONN_ID.upper()}"] = json.dumps(
            {
                "conn_type": "http",
                "host": crm.hostname,
                "port": crm.port or (443 if crm.scheme == "https" else 80),
                "password": endpoints.crm_token or "",
                "extra": {"https": crm.scheme == "https"},
            }
        )
    for key, value in local_secrets(cfg).items():
        env.setdefault(key, os.environ.get(key) or value)  # a deployment's own secret wins
    return env

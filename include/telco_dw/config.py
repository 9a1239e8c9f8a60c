"""Every setting of telco-dw, read from the environment in one place.

Each setting has a documented default that makes the embedded, single-machine run work with
nothing pre-installed. Production deployments override them through environment variables
(README, "Configuration"; ``telco-dw config`` prints :data:`SETTINGS` with their current values).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from telco_dw.errors import UserError


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, what it means, and its default."""

    env: str
    default: str
    help: str


def _repo_root() -> Path:
    """The project checkout: the folder holding ``dags/`` and ``dbt_project/``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dbt_project").is_dir() and (parent / "dags").is_dir():
            return parent
    return Path.cwd()


SETTINGS: tuple[Setting, ...] = (
    Setting("TELCO_DW_HOME", "<repo>/.local", "Folder for everything the embedded run creates (data, logs, keys)."),
    Setting(
        "WAREHOUSE_URL",
        "",
        "PostgreSQL URL of the warehouse (postgresql://user:pass@host:port/db). "
        "Unset: the embedded PostgreSQL under $TELCO_DW_HOME/pg.",
    ),
    Setting("WAREHOUSE_PORT", "", "TCP port of the embedded warehouse; unset: a free port chosen once and kept."),
    Setting("AIRFLOW_HOME", "$TELCO_DW_HOME/airflow", "Airflow home (config, logs)."),
    Setting(
        "AIRFLOW_DATABASE_URL",
        "",
        "SQLAlchemy URL of Airflow's metadata database; unset: database `airflow` on the warehouse server.",
    ),
    Setting("AIRFLOW_API_PORT", "8080", "Port of the Airflow UI/API that `make up` starts on 127.0.0.1."),
    Setting("LANDING_URL", "$TELCO_DW_HOME/landing", "Where network and survey files land (a folder or fsspec URL)."),
    Setting(
        "BILLING_SOURCE_URL",
        "",
        "PostgreSQL URL of the billing OLTP database; unset: database billing_src on the warehouse server "
        "(the simulator).",
    ),
    Setting("CRM_API_URL", "", "Base URL of the CRM API; unset: the simulator started by `telco-dw sources serve`."),
    Setting("CRM_API_TOKEN", "", "Bearer token of the CRM API; unset: the simulator's generated token."),
    Setting(
        "TASK_RETRIES", "2", "Retries of every pipeline task, with exponential backoff from 30 s (0: fail at once)."
    ),
    Setting(
        "PII_TOKEN_KEY",
        "",
        "Key (hex, >= 32 bytes) of the HMAC-SHA256 tokens replacing personal join keys; from your secret store. "
        "Unset: generated once into $TELCO_DW_SECRETS_FILE, embedded warehouse only.",
    ),
    Setting(
        "ALERT_TARGETS",
        "",
        "Where a task that failed for good is reported besides the log: comma-separated https:// webhook "
        "and mailto: URLs.",
    ),
    Setting(
        "SMTP_URL",
        "smtp://127.0.0.1:25",
        "Mail server of mailto: alert targets (smtp[s]://user:pass@host:port?starttls=1&from=addr).",
    ),
    Setting("TELCO_DW_OUTBOX", "$TELCO_DW_HOME/outbox", "Where `telco-dw simulate` writes the simulated sources."),
    Setting("DBT_TARGET_PATH", "$TELCO_DW_HOME/dbt/target", "dbt's target folder (manifest, run results, docs)."),
    Setting(
        "TELCO_DW_DBT_EXECUTION",
        "watcher",
        "How the transform DAG runs dbt through Cosmos: `watcher` (one `dbt build`, one task per model "
        "watching it) or `local` (one dbt process per model and one per model's tests).",
    ),
    Setting("TELCO_DW_DOCS", "$TELCO_DW_HOME/docs", "Folder of generated documentation sites and reports."),
    Setting(
        "QUALITY_DOCS_URL",
        "",
        "fsspec URL the quality Data Docs are also copied to after each validation (s3://bucket/dq, "
        "file:///srv/dq; the filesystem's package, e.g. s3fs, must be installed). Unset: local only.",
    ),
    Setting(
        "TELCO_DW_SECRETS_FILE",
        "$TELCO_DW_HOME/secrets.env",
        "Generated local secrets (Airflow fernet and API keys, PII token key) for the embedded run; mode 0600.",
    ),
)


@dataclass(frozen=True)
class Config:
    """Resolved settings. Build it with :func:`load`; never construct paths elsewhere."""

    repo: Path
    home: Path
    warehouse_url: str | None
    warehouse_port: int | None
    airflow_home: Path
    airflow_database_url: str | None
    airflow_api_port: int
    landing: str
    """A local folder or an fsspec URL (s3://, sftp://)."""
    outbox: Path
    billing_source_url: str | None
    crm_api_url: str | None
    crm_api_token: str | None
    dbt_project: Path
    dbt_target: Path
    docs: Path
    secrets_file: Path
    task_retries: int = 2
    alert_targets: str = ""
    smtp_url: str = "smtp://127.0.0.1:25"
    pii_token_key: str | None = None
    """Never printed: ``telco-dw config`` shows whether it is set, not its value."""
    dbt_execution: str = "watcher"
    quality_docs_url: str | None = None
    """Where the quality Data Docs are mirrored (fsspec URL), besides ``docs / "quality"``."""
    """``watcher`` or ``local``: Cosmos's execution mode for the transform DAG (:data:`DBT_EXECUTION_MODES`)."""

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded PostgreSQL managed by this project."""
        return self.warehouse_url is None

    @property
    def pg_data(self) -> Path:
        return self.home / "pg"

    @property
    def dags_folder(self) -> Path:
        return self.repo / "dags"

    @property
    def plugins_folder(self) -> Path:
        return self.repo / "plugins"


DBT_EXECUTION_MODES = ("watcher", "local")


def _choice(env: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(env, "").strip().lower()
    if raw == "":
        return default
    if raw not in choices:
        raise UserError(f"{env}={raw!r} is not one of {', '.join(choices)}: set one of them, or unset it.")
    return raw


def _path(env: str, default: Path) -> Path:
    raw = os.environ.get(env)
    return Path(raw).expanduser().resolve() if raw else default


def _port(env: str, default: int | None) -> int | None:
    raw = os.environ.get(env, "")
    if raw == "":
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise UserError(f"{env}={raw!r} is not a port number: set a number such as 55432, or unset it.")
    return int(raw)


def _count(env: str, default: int) -> int:
    raw = os.environ.get(env, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise UserError(f"{env}={raw!r} is not a count: set a whole number such as {default}, or unset it.")
    return int(raw)


@lru_cache(maxsize=1)
def load() -> Config:
    """Read the environment once per process and resolve every setting."""
    repo = _repo_root()
    home = _path("TELCO_DW_HOME", repo / ".local")
    return Config(
        repo=repo,
        home=home,
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        warehouse_port=_port("WAREHOUSE_PORT", None),
        airflow_home=_path("AIRFLOW_HOME", home / "airflow"),
        airflow_database_url=os.environ.get("AIRFLOW_DATABASE_URL") or None,
        airflow_api_port=_port("AIRFLOW_API_PORT", 8080) or 8080,
        landing=os.environ.get("LANDING_URL") or str(home / "landing"),
        outbox=_path("TELCO_DW_OUTBOX", home / "outbox"),
        billing_source_url=os.environ.get("BILLING_SOURCE_URL") or None,
        crm_api_url=os.environ.get("CRM_API_URL") or None,
        crm_api_token=os.environ.get("CRM_API_TOKEN") or None,
        dbt_project=repo / "dbt_project",
        dbt_target=_path("DBT_TARGET_PATH", home / "dbt" / "target"),
        docs=_path("TELCO_DW_DOCS", home / "docs"),
        secrets_file=_path("TELCO_DW_SECRETS_FILE", home / "secrets.env"),
        task_retries=_count("TASK_RETRIES", 2),
        pii_token_key=os.environ.get("PII_TOKEN_KEY") or None,
        alert_targets=os.environ.get("ALERT_TARGETS", ""),
        smtp_url=os.environ.get("SMTP_URL") or "smtp://127.0.0.1:25",
        dbt_execution=_choice("TELCO_DW_DBT_EXECUTION", "watcher", DBT_EXECUTION_MODES),
        quality_docs_url=os.environ.get("QUALITY_DOCS_URL") or None,
    )


def local_secrets(cfg: Config) -> dict[str, str]:
    """Secrets of the embedded run, generated once into ``cfg.secrets_file`` (mode 0600).

    Production supplies these through its own secret store; nothing here is ever committed.
    """
    from cryptography.fernet import Fernet

    wanted = {
        "AIRFLOW__CORE__FERNET_KEY": lambda: Fernet.generate_key().decode(),
        "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_urlsafe(32),
        "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_urlsafe(32),
        "PII_TOKEN_KEY": lambda: secrets.token_hex(32),
    }
    found: dict[str, str] = {}
    if cfg.secrets_file.exists():
        for line in cfg.secrets_file.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                found[key.strip()] = value.strip()
    missing = {k: make() for k, make in wanted.items() if k not in found}
    if missing:
        found.update(missing)
        cfg.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        body = "# generated by telco-dw for the embedded run; never commit\n"
        body += "".join(f"{k}={v}\n" for k, v in sorted(found.items()))
        cfg.secrets_file.touch(mode=0o600, exist_ok=True)
        cfg.secrets_file.chmod(0o600)
        cfg.secrets_file.write_text(body)
    return found

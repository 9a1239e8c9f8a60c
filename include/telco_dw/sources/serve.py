"""The simulated outside world, made current up to a date: ``telco-dw sources serve|stop|status``.

- CRM: the API simulator (:mod:`telco_dw.sources.crm.api`) runs as a background process on
  127.0.0.1, in its own session, with its files under ``$TELCO_DW_HOME/sources/``:
  ``crm_api.port`` (a free port chosen once and kept, so Airflow's ``crm_api`` connection stays
  valid across restarts), ``crm_api.token`` (a generated bearer token, mode 0600), ``crm_api.pid``
  and ``crm_api.log``. It serves the record versions updated before the date.
- billing: ``billing_src`` is advanced with the day files before the date (:mod:`.billing.oltp`);
  not a process.
- network and survey: the files due before the date are delivered into ``LANDING_URL``.

A source configured as a real system (``CRM_API_URL``, ``BILLING_SOURCE_URL``) is left alone.

In a container (``docker-compose.yml``, service ``sources``) ``telco-dw sources serve --foreground``
does the same but serves the CRM API in its own process, on the address and port given, until
SIGTERM: :func:`serve_crm_foreground`, with the bearer token ``CRM_API_TOKEN`` that the Airflow
connection ``crm_api`` also holds.
Only a process whose command line is the CRM simulator's is ever signalled (a stale pid file
pointing at a reused pid is ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.config import Config
from telco_dw.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

CRM_MODULE = "telco_dw.sources.crm.api"
START_TIMEOUT_S = 120.0  # loading 100k customers' change logs takes a few seconds; be generous
STOP_TIMEOUT_S = 10.0


def sources_dir(cfg: Config) -> Path:
    """``$TELCO_DW_HOME/sources``, created when missing."""
    path = cfg.home / "sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def token_path(cfg: Config) -> Path:
    """The CRM simulator's bearer token file (mode 0600)."""
    return sources_dir(cfg) / "crm_api.token"


def _token(cfg: Config) -> str:
    path = token_path(cfg)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    token = path.read_text().strip()
    if not token:
        raise UserError(f"the CRM simulator's token file {path} is empty: delete it and serve again")
    return token


def _port(cfg: Config) -> int:
    path = sources_dir(cfg) / "crm_api.port"
    if path.exists():
        text = path.read_text().strip()
        if text.isdigit() and 0 < int(text) < 65536:
            return int(text)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    path.write_text(f"{port}\n")
    return port


def _pid(cfg: Config) -> int | None:
    """The pid of the running CRM simulator started from this home, or None."""
    import psutil

    path = sources_dir(cfg) / "crm_api.pid"
    if not path.exists():
        return None
    try:
        process = psutil.Process(int(path.read_text().strip()))
        if process.status() == psutil.STATUS_ZOMBIE or CRM_MODULE not in process.cmdline():
            return None
        return process.pid
    except (ValueError, psutil.Error):
        return None


def crm_api_endpoint(cfg: Config) -> tuple[str, str] | None:
    """URL and token of the running CRM simulator, or None when it is not running."""
    if _pid(cfg) is None:
        return None
    return f"http://127.0.0.1:{_port(cfg)}", _token(cfg)


def start_crm_api(
    cfg: Config,
    outbox: Path,
    as_of: datetime | None = None,
    rate_429: float = 0.0,
    rate_5xx: float = 0.0,
    *,
    seed: int = 0,
    retry_after: int = 1,
) -> tuple[str, str]:
    """(Re)start the CRM simulator over ``outbox`` (versions before ``as_of``); (url, token) once it answers.

    Raises UserError when the outbox has no CRM, the kept port is taken by another process, or the
    simulator does not come up (its log is named).
    """
    if not (outbox / "crm").is_dir():
        raise UserError(f"{outbox} holds no simulated CRM: run `telco-dw simulate` first")
    stop_crm_api(cfg)
    token, port = _token(cfg), _port(cfg)
    folder = sources_dir(cfg)
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise UserError(
                f"port {port} (kept for the CRM simulator in {folder / 'crm_api.port'}) is in use by another "
                "process: stop it, or delete that file to choose a new port"
            )
    command = [
        sys.executable, "-m", CRM_MODULE, "--outbox", str(outbox), "--port", str(port),
        "--token-file", str(token_path(cfg)), "--rate-429", str(rate_429), "--rate-5xx", str(rate_5xx),
        "--seed", str(seed), "--retry-after", str(retry_after),
    ]  # fmt: skip
    if as_of is not None:
        command += ["--as-of", as_of.isoformat()]
    log_path = folder / "crm_api.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    (folder / "crm_api.pid").write_text(f"{process.pid}\n")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            (folder / "crm_api.pid").unlink(missing_ok=True)
            raise UserError(f"the CRM simulator exited at start (code {process.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return url, token
        except OSError:
            time.sleep(0.2)
    stop_crm_api(cfg)
    raise UserError(f"the CRM simulator did not answer on {url} within {START_TIMEOUT_S:.0f} s; see {log_path}")


def serve_crm_foreground(
    cfg: Config,
    outbox: Path,
    as_of: datetime | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    rate_429: float = 0.0,
    rate_5xx: float = 0.0,
    seed: int = 0,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the CRM simulator over ``outbox`` in this process until SIGTERM or SIGINT.

    The bearer token is ``CRM_API_TOKEN`` when set (a deployment gives the same value to the
    ``crm_api`` connection), else the generated token file. ``ready`` is called with the URL once it
    listens. Raises UserError when the outbox has no CRM or the port is taken.
    """
    import threading

    from telco_dw.sources.crm.api import CrmApiServer

    if not (outbox / "crm").is_dir():
        raise UserError(f"{outbox} holds no simulated CRM: run `telco-dw simulate` first")
    token = cfg.crm_api_token or _token(cfg)
    try:
        api = CrmApiServer(
            outbox, token, port=port, as_of=as_of, rate_429=rate_429, rate_5xx=rate_5xx, seed=seed, host=host
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} for the CRM simulator ({exc}): use another --port") from None
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    api.start()
    try:
        if ready is not None:
            ready(f"http://{host}:{api.port}")
        stopping.wait()
    finally:
        api.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_crm_api(cfg: Config) -> bool:
    """Stop the CRM simulator started from this home (SIGTERM, then SIGKILL after 10 s); True if one ran."""
    pid = _pid(cfg)
    pid_file = sources_dir(cfg) / "crm_api.pid"
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)  # its own session: the group is the simulator alone
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _pid(cfg) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid(cfg) is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:  # reap it when it is our child (started by this process)
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    pid_file.unlink(missing_ok=True)
    return True


def advance_billing(cfg: Config, through: date, outbox: Path | None = None) -> dict[str, int]:
    """Apply the billing day files with ``dt <= through`` to ``billing_src`` (created when missing).

    Raises UserError when ``BILLING_SOURCE_URL`` points at a real system (nothing to simulate).
    """
    from telco_dw.sources.billing import oltp
    from telco_dw.warehouse.connection import connect, ensure_database

    if cfg.billing_source_url is not None:
        raise UserError("BILLING_SOURCE_URL points at a real billing database: there is no simulator to advance")
    ensure_database(cfg, "billing_src", "or set BILLING_SOURCE_URL to a real billing database")
    with connect(cfg, "billing_src", autocommit=True) as conn:
        return oltp.advance(conn, outbox or cfg.outbox, through)


def present(
    cfg: Config,
    through: date,
    outbox: Path | None = None,
    *,
    rate_429: float = 0.0,
    rate_5xx: float = 0.0,
    seed: int = 0,
    start_crm: bool = True,
) -> dict[str, object]:
    """Make the simulated world current before ``through`` (exclusive): CRM API, billing database, files.

    The CRM API serves versions updated before ``through`` 00:00 UTC; billing has the days before
    ``through``; files due before ``through`` are delivered. Real systems are left alone. The state
    is written to ``$TELCO_DW_HOME/sources/state.json``. ``start_crm=False`` leaves the CRM API to
    the caller (:func:`serve_crm_foreground`).
    """
    from telco_dw.simulate.deliver import deliver

    outbox = outbox or cfg.outbox
    if not (outbox / "manifest.json").exists():
        raise UserError(f"{outbox} holds no simulation: run `telco-dw simulate` first")
    cut = datetime.combine(through, dtime(), tzinfo=UTC)
    state: dict[str, object] = {"through": through.isoformat(), "outbox": str(outbox)}
    if not start_crm:
        state["crm_api"] = "(served in the foreground by `telco-dw sources serve --foreground`)"
    elif cfg.crm_api_url is None:
        state["crm_api"], _ = start_crm_api(cfg, outbox, as_of=cut, rate_429=rate_429, rate_5xx=rate_5xx, seed=seed)
        state["crm_api_token_file"] = str(token_path(cfg))
    else:
        state["crm_api"] = f"{cfg.crm_api_url} (real system, not simulated)"
    if cfg.billing_source_url is None:
        state["billing_rows"] = advance_billing(cfg, through - timedelta(days=1), outbox)
    else:
        state["billing_rows"] = "(real system, not simulated)"
    state["files_delivered"] = len(deliver(outbox, cfg.landing, through))
    (sources_dir(cfg) / "state.json").write_text(json.dumps(state, indent=1))
    return state


def status(cfg: Config) -> dict[str, object]:
    """What the simulators serve now: the last ``present`` state plus whether the CRM API runs."""
    path = sources_dir(cfg) / "state.json"
    try:
        state: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        state = {}
    pid = _pid(cfg)
    state["crm_api_running"] = pid is not None
    if pid is not None:
        state["crm_api"] = f"http://127.0.0.1:{_port(cfg)}"
        state["crm_api_pid"] = pid
        state["crm_api_log"] = str(sources_dir(cfg) / "crm_api.log")
    return state

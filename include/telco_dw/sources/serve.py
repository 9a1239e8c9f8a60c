"""The simulated outside world, made current up to a date: ``telco-dw sources serve|stop|status``.

- CRM: the API simulator runs as a background process on 127.0.0.1, on a port chosen free once and
  kept (``$TELCO_DW_HOME/sources/crm_api.port``), with a generated bearer token (``crm_api.token``,
  mode 0600). It serves the record versions updated before the date.
- billing: ``billing_src`` is advanced through the date (day files before it applied).
- network and survey: the files due before the date are delivered into ``LANDING_URL``.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

from telco_dw.config import Config
from telco_dw.errors import UserError


def _dir(cfg: Config) -> Path:
    path = cfg.home / "sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _token(cfg: Config) -> str:
    path = _dir(cfg) / "crm_api.token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n")
    path.chmod(0o600)
    return path.read_text().strip()


def _port(cfg: Config) -> int:
    path = _dir(cfg) / "crm_api.port"
    if path.exists():
        return int(path.read_text().strip())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    path.write_text(f"{port}\n")
    return port


def _pid(cfg: Config) -> int | None:
    import psutil

    path = _dir(cfg) / "crm_api.pid"
    if not path.exists():
        return None
    try:
        process = psutil.Process(int(path.read_text().strip()))
        return None if process.status() == psutil.STATUS_ZOMBIE else process.pid
    except (ValueError, psutil.Error):
        return None


def crm_api_endpoint(cfg: Config) -> tuple[str, str] | None:
    """URL and token of the running CRM simulator, or None when it is not running."""
    if _pid(cfg) is None:
        return None
    return f"http://127.0.0.1:{_port(cfg)}", _token(cfg)


def start_crm_api(
    cfg: Config, outbox: Path, as_of: datetime | None = None, rate_429: float = 0.0, rate_5xx: float = 0.0
) -> tuple[str, str]:
    """(Re)start the CRM simulator over ``outbox``; returns (url, token) once it answers."""
    if not (outbox / "crm").is_dir():
        raise UserError(f"{outbox} holds no simulated CRM: run `telco-dw simulate` first")
    stop_crm_api(cfg)
    token, port = _token(cfg), _port(cfg)
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise UserError(
                f"port {port} (kept for the CRM simulator in {_dir(cfg) / 'crm_api.port'}) is in use by another "
                "process: stop it, or delete that file to choose a new port"
            )
    command = [
        sys.executable, "-m", "telco_dw.sources.crm.api", "--outbox", str(outbox), "--port", str(port),
        "--token-file", str(_dir(cfg) / "crm_api.token"), "--rate-429", str(rate_429), "--rate-5xx", str(rate_5xx),
    ]  # fmt: skip
    if as_of is not None:
        command += ["--as-of", as_of.isoformat()]
    log = (_dir(cfg) / "crm_api.log").open("a")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (_dir(cfg) / "crm_api.pid").write_text(f"{process.pid}\n")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserError(
                f"the CRM simulator exited at start (code {process.returncode}); see {_dir(cfg) / 'crm_api.log'}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return url, token
        except OSError:
            time.sleep(0.2)
    raise UserError(f"the CRM simulator did not answer on {url} within 60 s; see {_dir(cfg) / 'crm_api.log'}")


def stop_crm_api(cfg: Config) -> bool:
    """Stop the CRM simulator; True when one was running."""
    import os
    import signal

    pid = _pid(cfg)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _pid(cfg) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid(cfg) is not None:
        os.killpg(pid, signal.SIGKILL)
    (_dir(cfg) / "crm_api.pid").unlink(missing_ok=True)
    return True


def present(cfg: Config, through: date, outbox: Path | None = None) -> dict[str, object]:
    """Make the simulated world current before ``through``: CRM API, billing database, landed files.

    A source configured as a real system (``CRM_API_URL``, ``BILLING_SOURCE_URL``) is left alone.
    """
    from telco_dw.simulate.deliver import deliver
    from telco_dw.sources.billing import oltp
    from telco_dw.warehouse.connection import connect, ensure_database

    outbox = outbox or cfg.outbox
    if not (outbox / "manifest.json").exists():
        raise UserError(f"{outbox} holds no simulation: run `telco-dw simulate` first")
    cut = datetime.combine(through, dtime(), tzinfo=UTC)
    state: dict[str, object] = {"through": through.isoformat()}
    if cfg.crm_api_url is None:
        state["crm_api"], _ = start_crm_api(cfg, outbox, as_of=cut)
    else:
        state["crm_api"] = f"{cfg.crm_api_url} (real system, not simulated)"
    if cfg.billing_source_url is None:
        ensure_database(cfg, "billing_src", "or set BILLING_SOURCE_URL to a real billing database")
        with connect(cfg, "billing_src", autocommit=True) as conn:
            state["billing_rows"] = oltp.advance(conn, outbox, through)
    else:
        state["billing_rows"] = "(real system, not simulated)"
    state["files_delivered"] = len(deliver(outbox, cfg.landing, through))
    (_dir(cfg) / "state.json").write_text(json.dumps(state, indent=1))
    return state


def status(cfg: Config) -> dict[str, object]:
    """What the simulators are doing now."""
    path = _dir(cfg) / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    endpoint = crm_api_endpoint(cfg)
    state["crm_api_running"] = endpoint is not None
    if endpoint:
        state["crm_api"] = endpoint[0]
    return state

"""The embedded warehouse: a free port chosen once and kept, a clear error when it is taken, clean stop."""

import shutil
import socket
import tempfile
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest

from telco_dw import config
from telco_dw.errors import UserError
from telco_dw.warehouse import embedded

pytestmark = pytest.mark.integration


@contextmanager
def _occupied(port: int):
    """Hold ``port`` on 127.0.0.1 unless something (e.g. a system PostgreSQL) already does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
    except OSError:
        sock.close()
        sock = None  # already taken by another process: just as good
    try:
        yield
    finally:
        if sock is not None:
            sock.close()


@pytest.fixture
def fresh(monkeypatch, cfg):
    """A home of its own, beside the test home rather than under pytest's tmp_path: pytest keeps
    /tmp/pytest-of-<user> at mode 0700 (and another pytest run may reset it at any moment), which the
    server's own user, when tests run as root, cannot cross."""
    cfg.home.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="fresh-", dir=cfg.home))
    monkeypatch.setenv("TELCO_DW_HOME", str(home / "home"))
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    config.load.cache_clear()
    fresh_cfg = config.load()
    yield fresh_cfg
    embedded.stop(fresh_cfg)
    config.load.cache_clear()
    shutil.rmtree(home, ignore_errors=True)


def test_starts_when_5432_is_taken_keeps_its_port_and_stops_cleanly(fresh):
    with _occupied(5432):
        state = embedded.start(fresh)
        assert state.running and state.port != 5432
        with closing(psycopg.connect(embedded.url(fresh))) as conn:
            assert conn.execute("select inet_server_addr()::text").fetchone()[0].startswith("127.0.0.1")
            databases = {r[0] for r in conn.execute("select datname from pg_database")}
        assert {"telco_dw", "airflow"} <= databases
        port = state.port

        stopped = embedded.stop(fresh)
        assert not stopped.running
        assert not (fresh.pg_data / "data" / "postmaster.pid").exists()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(embedded.url(fresh), connect_timeout=2)

        again = embedded.start(fresh)
        assert again.running and again.port == port  # Asset names depend on it: never changes


def test_a_taken_kept_port_is_a_clear_error(fresh):
    embedded.start(fresh)
    port = embedded.kept_port(fresh)
    embedded.stop(fresh)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped server's sockets may linger
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        with pytest.raises(UserError, match=rf"port {port} .* is in use by another process"):
            embedded.start(fresh)


def test_start_is_idempotent(fresh):
    first = embedded.start(fresh)
    second = embedded.start(fresh)
    assert first.pid == second.pid


def test_databases_sort_text_by_code_point_with_the_builtin_collation(fresh):
    embedded.start(fresh)
    with closing(psycopg.connect(embedded.url(fresh))) as conn:
        collations = set(
            conn.execute(
                "select datlocprovider, datlocale from pg_database where datname = any(%s)",
                (list(embedded.DATABASES),),
            ).fetchall()
        )
        (ordered,) = conn.execute(
            "select array_agg(v order by v) from unnest(array['b', '张', 'B', 'a', 'Z']) as v"
        ).fetchone()
    assert collations == {("b", "C.UTF-8")}
    assert ordered == sorted(["b", "张", "B", "a", "Z"])  # code point order, as Python sorts str


def test_a_warehouse_with_the_c_library_collation_says_how_to_re_create_it(fresh, monkeypatch, caplog):
    monkeypatch.setattr(embedded, "INITDB_LOCALE", ("--encoding=UTF8", "--locale=C.UTF-8"))  # an earlier telco-dw's
    embedded.start(fresh)
    embedded.stop(fresh)
    with caplog.at_level("WARNING", logger=embedded.__name__):
        embedded.start(fresh)
    assert f"delete {fresh.pg_data / 'data'}" in caplog.text and "three times" in caplog.text

import pytest

from telco_dw import config
from telco_dw.errors import UserError
from telco_dw.warehouse.connection import describe, warehouse_url


def _load(monkeypatch, **env):
    for setting in config.SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config.load.cache_clear()
    try:
        return config.load()
    finally:
        config.load.cache_clear()


def test_defaults_live_under_telco_dw_home(monkeypatch, tmp_path):
    cfg = _load(monkeypatch, TELCO_DW_HOME=str(tmp_path))
    assert cfg.embedded
    assert cfg.pg_data == tmp_path / "pg"
    assert cfg.airflow_home == tmp_path / "airflow"
    assert cfg.landing == str(tmp_path / "landing")
    assert cfg.outbox == tmp_path / "outbox"
    assert (cfg.dbt_project / "dbt_project.yml").exists()


def test_warehouse_url_is_used_as_given(monkeypatch, tmp_path):
    cfg = _load(monkeypatch, TELCO_DW_HOME=str(tmp_path), WAREHOUSE_URL="postgresql://u:secret@db.example:6543/dw")
    assert not cfg.embedded
    assert warehouse_url(cfg) == "postgresql://u:secret@db.example:6543/dw"
    assert warehouse_url(cfg, "airflow") == "postgresql://u:secret@db.example:6543/airflow"
    assert "secret" not in describe(warehouse_url(cfg))


def test_bad_warehouse_url_says_what_to_do(monkeypatch, tmp_path):
    cfg = _load(monkeypatch, TELCO_DW_HOME=str(tmp_path), WAREHOUSE_URL="mysql://root@localhost/dw")
    with pytest.raises(UserError, match="must be a PostgreSQL URL"):
        warehouse_url(cfg)


def test_bad_port_is_rejected(monkeypatch, tmp_path):
    with pytest.raises(UserError, match="WAREHOUSE_PORT"):
        _load(monkeypatch, TELCO_DW_HOME=str(tmp_path), WAREHOUSE_PORT="fifty")


def test_local_secrets_are_generated_once_and_private(monkeypatch, tmp_path):
    cfg = _load(monkeypatch, TELCO_DW_HOME=str(tmp_path))
    first = config.local_secrets(cfg)
    assert config.local_secrets(cfg) == first
    assert cfg.secrets_file.stat().st_mode & 0o077 == 0

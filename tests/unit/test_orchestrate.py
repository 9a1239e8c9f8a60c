import pytest

from telco_dw import config, orchestrate
from telco_dw.errors import UserError


@pytest.fixture()
def cfg(monkeypatch, tmp_path):
    for setting in config.SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("TELCO_DW_HOME", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://u@127.0.0.1:5432/dw")
    monkeypatch.delenv("AIRFLOW__CORE__EXECUTOR", raising=False)
    config.load.cache_clear()
    yield config.load()
    config.load.cache_clear()


def test_up_starts_a_celery_worker_only_under_the_celery_executor(cfg, monkeypatch):
    assert orchestrate.components(cfg) == orchestrate.COMPONENTS  # make up: LocalExecutor, no worker
    for executor in ("CeleryExecutor", "airflow.providers.celery.executors.celery_executor.CeleryExecutor"):
        monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
        assert orchestrate.components(cfg) == (*orchestrate.COMPONENTS, orchestrate.WORKER)
    assert orchestrate._command(orchestrate.WORKER)[1:] == ["celery", "worker", "--skip-serve-logs"]
    assert orchestrate.process_env(cfg)["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "4"  # = parallelism


def test_up_names_the_components_it_knows(cfg):
    with pytest.raises(UserError, match=r"unknown Airflow component.*worker"):
        orchestrate.up(cfg, only=["worker"])  # not under LocalExecutor

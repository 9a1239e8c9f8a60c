"""The dbt manifest's fingerprint notices any change to what dbt parses, and nothing else."""

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from telco_dw import config
from telco_dw.transform import manifest

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@pytest.fixture
def project(tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return copy


def test_fingerprint_changes_with_a_model_edit_addition_or_removal(project):
    before = manifest.fingerprint(project)
    model = next((project / "models" / "marts").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    edited = manifest.fingerprint(project)
    (project / "models" / "marts" / "fct_new.sql").write_text("select 1 as one\n")
    added = manifest.fingerprint(project)
    model.unlink()
    removed = manifest.fingerprint(project)
    assert len({before, edited, added, removed}) == 4


def test_fingerprint_ignores_dbt_outputs(project):
    before = manifest.fingerprint(project)
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    (project / "logs").mkdir()
    (project / "logs" / "dbt.log").write_text("log")
    assert manifest.fingerprint(project) == before


def test_missing_and_stale_manifests_say_what_to_run(project, tmp_path):
    cfg = replace(config.load(), dbt_project=project, dbt_target=tmp_path / "target")
    with pytest.raises(manifest.ManifestError, match=r"does not exist: run `telco-dw manifest`"):
        manifest.checked(cfg)
    cfg.dbt_target.mkdir()
    (cfg.dbt_target / "manifest.json").write_text('{"nodes": {}}')
    (cfg.dbt_target / "manifest.fingerprint").write_text(manifest.fingerprint(project) + "\n")
    assert manifest.checked(cfg) == cfg.dbt_target / "manifest.json"
    (project / "models" / "marts" / "fct_new.sql").write_text("select 1 as one\n")
    with pytest.raises(manifest.ManifestError, match=r"older than the dbt project.*run `telco-dw manifest`"):
        manifest.checked(cfg)

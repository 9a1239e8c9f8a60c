"""Every DAG file imports cleanly, is documented, retries, and parses fast."""

from pathlib import Path

import pytest

DAG_FILES = sorted(p for p in (Path(__file__).resolve().parents[2] / "dags").glob("*.py") if p.stem != "__init__")


@pytest.fixture(scope="module")
def dagbag(airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(airflow_env.dags_folder))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_dag_id_is_the_file_stem(dagbag):
    assert {Path(dag.fileloc).stem: dag_id for dag_id, dag in dagbag.dags.items()} == {
        p.stem: p.stem for p in DAG_FILES
    }


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_is_tagged_documented_and_retries(dagbag, path):
    dag = dagbag.dags[path.stem]
    assert dag.tags, "tags help people find the DAG in the UI"
    assert dag.doc_md and len(dag.doc_md.strip()) > 40
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_parses_in_under_two_seconds(dagbag, path):
    stats = {Path(s.file).stem: s for s in dagbag.dagbag_stats}
    stat = stats[path.stem]
    assert stat.duration.total_seconds() < 2.0, f"{path.name} took {stat.duration}"

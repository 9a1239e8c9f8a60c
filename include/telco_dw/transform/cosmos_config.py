"""How the transform DAG runs dbt through astronomer-cosmos: one Airflow task per dbt model.

Everything here is cheap at DAG parse time: the task graph is rendered from the prebuilt
``manifest.json`` (``LoadMode.DBT_MANIFEST``, see :mod:`telco_dw.transform.manifest`), so parsing
the DAG never runs dbt. Credentials come from the Airflow connection ``telco_warehouse`` through a
Cosmos profile mapping; no profile with credentials is written into the repository.

Execution modes (setting ``TELCO_DW_DBT_EXECUTION``):

- ``watcher`` (default): Cosmos's ``ExecutionMode.WATCHER``. One producer task runs a single
  ``dbt build`` of the whole project (dbt's own threads, one dbt start-up); each model's task (and
  its tests' task) is a sensor that reads that model's result from the producer's XComs.
  :func:`watch_after_build` starts the sensors once the build has finished (see there why).
- ``local``: ``ExecutionMode.LOCAL``: every model task runs ``dbt run --select <model>`` and every
  test task ``dbt test --select <model>``, each its own dbt invocation; tests that read two models
  (relationships) get their own task after both.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TaskGroup, TriggerRule
from cosmos import ExecutionConfig, ExecutionMode, LoadMode, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.operators.watcher import DbtProducerWatcherOperator
from cosmos.profiles import DbtProfileConfigVars, PostgresUserPasswordProfileMapping

from telco_dw import config
from telco_dw.airflow_env import WAREHOUSE_CONN_ID
from telco_dw.transform import dbt, manifest

PROFILE_NAME = "telco_dw"  # dbt_project.yml `profile:`
TARGET_NAME = "warehouse"


class WarehouseProfileMapping(PostgresUserPasswordProfileMapping):
    """Cosmos's PostgreSQL user/password mapping, also for a connection without a password.

    The embedded warehouse accepts 127.0.0.1 with trust authentication, so its connection has no
    password; the stock mapping refuses that. The password, when there is one, still reaches dbt only
    as an environment variable of the dbt process.
    """

    def get_dbt_value(self, name: str) -> Any:
        value = super().get_dbt_value(name)
        if value is None and name == "password":
            return ""
        return value


def profile_config() -> ProfileConfig:
    """The dbt profile, generated per task from the Airflow connection of the warehouse."""
    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=TARGET_NAME,
        profile_mapping=WarehouseProfileMapping(
            conn_id=WAREHOUSE_CONN_ID,
            profile_args={"schema": "public", "threads": 2, "connect_timeout": 10},
            dbt_config_vars=DbtProfileConfigVars(send_anonymous_usage_stats=False),
        ),
    )


def task_group_kwargs(cfg: config.Config | None = None) -> dict[str, Any]:
    """Arguments of the transform DAG's ``DbtTaskGroup`` for the configured execution mode.

    Raises :class:`~telco_dw.transform.manifest.ManifestError` (naming the command to run) when the
    manifest is missing or older than the dbt project.
    """
    cfg = cfg or config.load()
    manifest_path = manifest.checked(cfg)
    watcher = cfg.dbt_execution == "watcher"
    return {
        "project_config": ProjectConfig(
            dbt_project_path=cfg.dbt_project,
            manifest_path=manifest_path,
            install_dbt_deps=False,  # no packages; and `dbt deps` would reach the internet
            # dbt writes into the task's temporary copy of the project, never into the shared target
            # folder (whose manifest.json the DAG is rendered from), even when DBT_TARGET_PATH is set
            # and, a production build, without dbt's unit tests (dbt.PRODUCTION_ENV)
            env_vars={
                "DBT_TARGET_PATH": "target",
                "DBT_LOG_PATH": "logs",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                **dbt.PRODUCTION_ENV,
            },
        ),
        "profile_config": profile_config(),
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # local: a test that reads two models (relationships) runs once both are built; attached to
            # one of them, it read the other while dbt had just dropped it (a rebuilt view's dependents
            # go with it, CASCADE) and failed. One `dbt build` (watcher) orders tests itself.
            should_detach_multiple_parents_tests=not watcher,
        ),
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
        ),
    }


def watch_after_build(group: TaskGroup) -> None:
    """WATCHER: make every model task of ``group`` without an upstream task wait for the producer.

    Cosmos starts those tasks alongside the producer (in a ``DbtTaskGroup`` they have no upstream),
    to show progress while ``dbt build`` runs. Two things break that here:

    - ``dag.test()`` (``telco-dw run``, ``make demo``, the tests) runs one task at a time and a
      deferred task's trigger inline: a model task run before the producer would wait forever;
    - polling in ``reschedule`` mode instead, Airflow 3.3's scheduler gives each new poke a new try
      number, which Cosmos takes for a retry: the task ran its own ``dbt run`` after the build, and
      rebuilding a view dropped the views built on it (``CASCADE``), leaving intermediates missing.

    Waiting for the producer (``all_done``: also after a failed build, so each task reports its own
    model's result, or, if the build never reached it, runs it itself as Cosmos does) orders them in
    both. Each task then finds its result at the first poke. The cost: the UI shows the models'
    results once the build is over, not while it runs. A no-op in LOCAL mode (no producer).
    """
    tasks = list(group.iter_tasks())
    producers = [t for t in tasks if isinstance(t, DbtProducerWatcherOperator)]
    if not producers:
        return
    (producer,) = producers
    for task in tasks:
        if task is producer or task.upstream_task_ids:
            continue
        producer >> task
        task.trigger_rule = TriggerRule.ALL_DONE


def mart_names(cfg: config.Config | None = None) -> list[str]:
    """The models under ``models/marts/`` in the manifest, sorted."""
    cfg = cfg or config.load()
    return sorted(m.name for m in manifest.models(manifest.checked(cfg)) if m.layer == "marts")

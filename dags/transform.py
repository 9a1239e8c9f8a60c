"""
### Transform

Runs when every raw table has new data (its schedule is the ingest DAGs' Assets). dbt runs through
astronomer-cosmos, one task per dbt model (and one per model's tests), rendered from the prebuilt
dbt manifest (`telco-dw manifest`), so parsing this file never runs dbt:

- `TELCO_DW_DBT_EXECUTION=watcher` (default): the `dbt_producer_watcher` task runs one `dbt build`
  of staging, intermediate and marts; then each model's task reports that model's result from it;
- `TELCO_DW_DBT_EXECUTION=local`: each model's task runs its own `dbt run`, each test task `dbt test`.

Before dbt, `prepare_privacy` fails the run if a raw column looks personal but the PII catalogue
does not declare it, holds the PII token key in the warehouse for `privacy.token()` and applies the
roles' grants (docs/privacy.md). After dbt, `validate_privacy` runs the `pii.*` suites (no personal
value in any row past raw; tokens are HMAC tokens) and `validate_marts` the mart suites (`marts.*`:
keys, metrics on their scales, billed revenue reconciled with raw billing month by month): they gate
the result. Emits one Asset per mart (`marts.<model>`) when both gates pass; Cosmos also emits an
Asset per model as it is built.
"""

from airflow.sdk import dag, task
from cosmos import DbtTaskGroup
from telco_dw_gx import GXValidateOperator

from telco_dw.assets import ALL_RAW, marts
from telco_dw.dag_defaults import DEFAULT_ARGS, START_DATE
from telco_dw.transform.cosmos_config import mart_names, task_group_kwargs, watch_after_build


@dag(
    schedule=ALL_RAW,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["transform", "dbt", "quality"],
    doc_md=__doc__,
)
def transform():
    @task
    def prepare_privacy():
        from telco_dw.tasks import prepare_privacy

        return prepare_privacy()

    dbt = DbtTaskGroup(group_id="dbt", **task_group_kwargs())
    watch_after_build(dbt)  # WATCHER: model tasks start once `dbt build` is over (see its docstring)
    privacy = GXValidateOperator(task_id="validate_privacy", suite="pii.*")
    validate = GXValidateOperator(task_id="validate_marts", suite="marts.*", outlets=marts(mart_names()))

    prepare_privacy() >> dbt >> privacy >> validate


transform()

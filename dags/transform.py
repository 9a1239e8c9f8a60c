"""
### Transform

Runs when every raw table has new data (its schedule is the ingest DAGs' Assets). dbt runs through
astronomer-cosmos, one task per dbt model (and one per model's tests), rendered from the prebuilt
dbt manifest (`telco-dw manifest`), so parsing this file never runs dbt:

- `TELCO_DW_DBT_EXECUTION=watcher` (default): the `dbt_producer_watcher` task runs one `dbt build`
  of staging, intermediate and marts; then each model's task reports that model's result from it;
- `TELCO_DW_DBT_EXECUTION=local`: each model's task runs its own `dbt run`, each test task `dbt test`.

Write-audit-publish (docs/quality.md): dbt writes the marts into `marts_candidate`, never into
`marts`, which BI tools read.

- `prepare_privacy` fails the run if a raw column looks personal but the PII catalogue does not
  declare it, holds the PII token key in the warehouse for `privacy.token()` and applies the roles'
  grants (docs/privacy.md); `begin_build` records the build in `audit.publications` (and drops a
  candidate that an earlier run built but never published);
- after dbt, the quality gate audits the candidate: `validate_privacy` runs the `pii.*` suites (no
  personal value in any row past raw; tokens are HMAC tokens), `validate_marts` the mart suites
  (`marts.*`: keys, metrics on their scales, billed revenue reconciled with raw billing month by
  month);
- `publish` (runs whatever happened before it) swaps the candidate into `marts` in one transaction
  if every gate suite passed in this run, and emits one Asset per mart (`marts.<model>`); otherwise it
  fails naming the failed or missing checks, and `marts` stays exactly as it was. Once published, it
  brings the candidate's incremental facts up to the published ones for the next run. Cosmos also emits
  an Asset per model as dbt builds it (in the candidate schema).
"""

from airflow.sdk import TriggerRule, dag, task
from cosmos import DbtTaskGroup
from telco_dw_gx import GXValidateOperator

from telco_dw.assets import ALL_RAW, marts
from telco_dw.dag_defaults import DEFAULT_ARGS, START_DATE
from telco_dw.transform.cosmos_config import mart_names, task_group_kwargs, watch_after_build
from telco_dw.warehouse.publish import CANDIDATE_SCHEMAS


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

    @task
    def begin_build(dag_run=None):
        from telco_dw.tasks import begin_build

        return begin_build(f"{dag_run.dag_id}/{dag_run.run_id}")

    @task(trigger_rule=TriggerRule.ALL_DONE, outlets=marts(mart_names()))
    def publish(dag_run=None):
        from telco_dw.tasks import publish_marts

        return publish_marts(f"{dag_run.dag_id}/{dag_run.run_id}")

    dbt = DbtTaskGroup(group_id="dbt", **task_group_kwargs())
    watch_after_build(dbt)  # WATCHER: model tasks start once `dbt build` is over (see its docstring)
    privacy = GXValidateOperator(task_id="validate_privacy", suite="pii.*", schemas=CANDIDATE_SCHEMAS)
    validate = GXValidateOperator(task_id="validate_marts", suite="marts.*", schemas=CANDIDATE_SCHEMAS)

    prepare_privacy() >> begin_build() >> dbt >> privacy >> validate >> publish()


transform()

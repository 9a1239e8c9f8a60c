"""
### Ingest crm

Pulls customers, subscriptions and complaint tickets changed since the watermark from the CRM API
(Airflow connection `crm_api`; cursor pagination, retries on 429/5xx) and lands them into `raw_crm`:
one batch per entity per data interval, re-running an interval replaces its batch.

Rows that cannot land (unparsable, missing or mistyped values, out of range, no `updated_at`) go to
`quarantine.<source>` with the reason; `audit.load_batches` balances read = landed + quarantined.
Then `validate_raw` runs the GX suites `raw.crm.*` on the batches this run landed (contract,
ranges, ledger balance, volume; `audit.dq_results`) and, when no critical check failed, emits one
Asset per raw table, which schedules the `transform` DAG.

**Bulk CSV import**: trigger with the param `crm_export` = path of the legacy CRM's bulk export
(and `crm_export_mapping` = its mapping YAML, default `mapping.yml` beside it) to land it into
`raw_crm.customers` through the same ledger and quarantine (`telco-dw ingest crm-export` does the
same from the shell). Its rows get the run's data interval end as `updated_at`. Without the param
the `land_export` task is skipped.
"""

from airflow.sdk import Param, dag, task
from telco_dw_gx import GXValidateOperator

from telco_dw.assets import RAW
from telco_dw.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["ingest", "crm"],
    doc_md=__doc__,
    params={
        "crm_export": Param("", type="string", description="Path of a CRM bulk CSV export to land (empty: none)."),
        "crm_export_mapping": Param("", type="string", description="Its mapping YAML (empty: mapping.yml beside it)."),
    },
)
def ingest_crm():
    @task
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("crm", data_interval_end)

    @task(outlets=[a for a in RAW["crm"] if a.name == "raw_crm.customers"])
    def land_export(params=None, data_interval_end=None):
        if not (params or {}).get("crm_export"):
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("no crm_export param: nothing to import")
        from telco_dw.tasks import land_crm_export

        return land_crm_export(params["crm_export"], params.get("crm_export_mapping") or None, data_interval_end)

    landed = land()
    # the raw Assets (which schedule transform) are emitted only once this run's batches passed
    GXValidateOperator(task_id="validate_raw", suite="raw.crm.*", batches=landed, outlets=RAW["crm"])
    landed >> land_export()


ingest_crm()

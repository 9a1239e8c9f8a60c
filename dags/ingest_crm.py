"""
### Ingest crm

Pulls customers, subscriptions and complaint tickets changed since the watermark from the CRM API
(Airflow connection `crm_api`; cursor pagination, retries on 429/5xx) and lands them into `raw_crm`:
one batch per entity per data interval, re-running an interval replaces its batch.

Rows that cannot land (unparsable, missing or mistyped values, out of range) go to
`quarantine.<source>` with the reason; `audit.load_batches` balances read = landed + quarantined.
Emits one Asset per raw table, which schedules the `transform` DAG.
"""

from airflow.sdk import dag, task

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
)
def ingest_crm():
    @task(outlets=RAW["crm"])
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("crm", data_interval_end)

    land()


ingest_crm()

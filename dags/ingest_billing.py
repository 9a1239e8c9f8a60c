"""
### Ingest billing

Extracts accounts, invoices, invoice lines and payments changed since the watermark (with a
10-minute overlap for in-flight transactions) from the billing database (Airflow connection
`billing_source`) and lands them into `raw_billing`: one batch per table per data interval.

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
    tags=["ingest", "billing"],
    doc_md=__doc__,
)
def ingest_billing():
    @task(outlets=RAW["billing"])
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("billing", data_interval_end)

    land()


ingest_billing()

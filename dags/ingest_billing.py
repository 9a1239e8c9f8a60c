"""
### Ingest billing

Extracts accounts, invoices, invoice lines and payments changed since the watermark (with a
10-minute overlap for in-flight transactions) from the billing database (Airflow connection
`billing_source`) and lands them into `raw_billing`: one batch per table per data interval.

Rows that cannot land (unparsable, missing or mistyped values, out of range) go to
`quarantine.<source>` with the reason; `audit.load_batches` balances read = landed + quarantined.
Then `validate_raw` runs the GX suites `raw.billing.*` on the batches this run landed (contract,
ranges, ledger balance, volume; `audit.dq_results`) and, when no critical check failed, emits one
Asset per raw table, which schedules the `transform` DAG.
"""

from airflow.sdk import dag, task
from telco_dw_gx import GXValidateOperator

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
    @task
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("billing", data_interval_end)

    landed = land()
    # the raw Assets (which schedule transform) are emitted only once this run's batches passed
    GXValidateOperator(task_id="validate_raw", suite="raw.billing.*", batches=landed, outlets=RAW["billing"])


ingest_billing()

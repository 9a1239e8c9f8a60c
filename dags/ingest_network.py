"""
### Ingest network

Lands the hourly per-cell KPI files (gzipped CSV) and daily per-subscriber experience files
(Parquet) of every day that ended by the end of the data interval from `LANDING_URL` into
`raw_network`: one batch per file, a redelivered file is skipped, a late one lands on the next run.

Rows that cannot land (unparsable, missing or mistyped values, out of range) go to
`quarantine.<source>` with the reason; `audit.load_batches` balances read = landed + quarantined.
Then `validate_raw` runs the GX suites `raw.network.*` on the batches this run landed (contract,
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
    tags=["ingest", "network"],
    doc_md=__doc__,
)
def ingest_network():
    @task
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("network", data_interval_end)

    landed = land()
    # the raw Assets (which schedule transform) are emitted only once this run's batches passed
    GXValidateOperator(task_id="validate_raw", suite="raw.network.*", batches=landed, outlets=RAW["network"])


ingest_network()

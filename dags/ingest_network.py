"""
### Ingest network

Lands hourly per-cell KPIs and daily per-subscriber experience into `raw_network`,
one batch per source file (see `telco_dw.load.landing`): COPY-streamed, recorded in
`audit.load_batches`, skipped when the same file was landed before.
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
    tags=["ingest", "network"],
    doc_md=__doc__,
)
def ingest_network():
    @task(outlets=RAW["network"])
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("network", data_interval_end)

    land()


ingest_network()

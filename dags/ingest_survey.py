"""
### Ingest survey

Lands NPS, CSAT and CES survey responses into `raw_survey`,
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
    tags=["ingest", "survey"],
    doc_md=__doc__,
)
def ingest_survey():
    @task(outlets=RAW["survey"])
    def land(data_interval_end=None):
        from telco_dw.tasks import land

        return land("survey", data_interval_end)

    land()


ingest_survey()

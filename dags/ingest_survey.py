"""
### Ingest survey

Lands the survey vendor's daily JSON Lines exports (NPS, CSAT, CES with comments) of every day that
ended by the end of the data interval from `LANDING_URL` into `raw_survey`: one batch per file,
one row per answered question.

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

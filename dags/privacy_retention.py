"""
### Privacy retention

Daily: nulls every raw personal value older than the retention its PII catalogue entry declares
(counted from when it landed, or for CRM and billing master data from when a newer version
superseded it), deletes quarantined rows older than their source's longest retention, and logs the
counts (never the values) to `audit.privacy_actions`. Emits the raw Assets, so `transform` rebuilds
the marts without the expired values. See docs/privacy.md.
"""

from airflow.sdk import dag, task

from telco_dw.assets import ALL_RAW
from telco_dw.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["privacy"],
    doc_md=__doc__,
)
def privacy_retention():
    @task(outlets=ALL_RAW)
    def apply_retention():
        from telco_dw.tasks import apply_retention

        return apply_retention()

    apply_retention()


privacy_retention()

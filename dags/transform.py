"""
### Transform

Runs when every raw table has new data (its schedule is the ingest DAGs' Assets): `dbt build`
builds and tests staging and the marts, then the Great Expectations suite on `marts.dim_customers`
gates the result. Emits the mart Assets when the gate passes.
"""

from airflow.sdk import dag, task
from telco_dw_gx import GXValidateOperator

from telco_dw.assets import ALL_RAW, MARTS
from telco_dw.dag_defaults import DEFAULT_ARGS, START_DATE


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
    def dbt_build():
        from telco_dw.tasks import dbt_build

        dbt_build()

    validate = GXValidateOperator(task_id="validate_marts", suite="marts.dim_customers", outlets=MARTS)

    dbt_build() >> validate


transform()

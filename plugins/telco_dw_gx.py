"""Airflow operator that gates data with a Great Expectations suite of ``expectations/``.

Usage in a DAG file (the plugins folder is on ``sys.path``)::

    from telco_dw_gx import GXValidateOperator

    GXValidateOperator(task_id="validate_marts", suite="marts.*", schemas={"marts": "marts_candidate"})
    GXValidateOperator(task_id="validate_raw", suite="raw.survey.*", batches=land())  # this run's batches

Importing this module is cheap: no Great Expectations, no database, no suite lookup. All of that
happens in :meth:`GXValidateOperator.execute`. The project runs GX Core through this operator
rather than the GX Airflow provider (its 1.0.0 pins structlog below what Airflow 3.3 needs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context


class GXValidateOperator(BaseOperator):
    """Validate warehouse tables with GX suites; fail the task on any critical failure.

    :param suite: name of a suite declared under ``expectations/`` (e.g. ``marts.dim_customers``), or
        a pattern matching several (``raw.survey.*``), validated together in one process and one GX checkpoint.
    :param batches: validate only these landing batches: ``{table: [batch ids]}`` or an ingest task's
        summary holding it under ``batch_ids`` (XCom); a suite whose table got no batch is skipped.
        None (the default) validates whole tables. Templated.
    :param schemas: validate the tables of a declared schema in another one: ``{"marts":
        "marts_candidate"}`` validates what dbt built before it is published (write-audit-publish,
        ``telco_dw.warehouse.publish``). Templated.
    :param conn_id: Airflow connection of the warehouse (default ``telco_warehouse``, provisioned
        from configuration by ``telco_dw.airflow_env``), the same one the ingest and dbt tasks use.

    Every expectation is logged with its counts and stored in ``audit.dq_results`` keyed by
    ``<dag_id>/<run_id>``. Failed warnings are logged and recorded; the task still succeeds. A failed
    critical expectation raises ``AirflowFailException`` (an ``AirflowException`` that skips
    retries: re-validating unchanged data cannot pass) whose message names the suite, table,
    expectation and observed value. Returns (XCom) the counts of the run.
    """

    template_fields = ("suite", "schemas", "batches")
    ui_color = "#ffe4b5"

    def __init__(
        self,
        *,
        suite: str,
        schemas: dict[str, str] | None = None,
        conn_id: str | None = None,
        batches: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.schemas = schemas
        self.conn_id = conn_id
        self.batches = batches

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from telco_dw.airflow_env import WAREHOUSE_CONN_ID
        from telco_dw.quality import gate
        from telco_dw.tasks import warehouse_url_from_connection

        specs = gate.select(self.suite, self.schemas)
        if self.batches is not None:
            batches = self.batches.get("batch_ids", self.batches) if isinstance(self.batches, dict) else {}
            landed = []
            for spec in specs:
                ids = (batches or {}).get(spec.qualified_table) or []
                if ids:
                    landed.append(spec.for_batches(ids))
                else:
                    self.log.info("%s: no batch landed into %s in this run, nothing to validate", spec.name, spec.table)
            specs = landed
        run_id = f"{context['ti'].dag_id}/{context['run_id']}"
        outcome = gate.validate(warehouse_url_from_connection(self.conn_id or WAREHOUSE_CONN_ID), specs, run_id)
        for suite in outcome.outcomes:
            self._log_outcome(suite)
        if not outcome.passed:
            raise AirflowFailException("\n".join(outcome.failures))
        return {"suite": self.suite, "run_id": run_id, **outcome.counts()}

    def _log_outcome(self, outcome: Any) -> None:
        for result in outcome.results:
            self.log.info("[%s] %-8s %s: %s", result.status, result.severity, result.expectation, result.observed_value)
        counts = outcome.counts()
        self.log.info(
            "GX suite %s on %s: %d expectations, %d passed, %d critical failures, %d warnings",
            outcome.suite,
            outcome.table,
            counts["evaluated"],
            counts["passed"],
            counts["critical_failures"],
            counts["warnings"],
        )
        for result in outcome.warnings:
            self.log.warning(
                "data quality warning on %s: %s failed; observed %s",
                outcome.table,
                result.expectation,
                result.observed_value,
            )

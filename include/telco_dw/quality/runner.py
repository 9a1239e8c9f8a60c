"""Run one GX suite against one PostgreSQL table and record the evidence.

Great Expectations is imported inside :func:`run_suite` only (the import takes about 10 s), so this
module is safe to import wherever Airflow parses DAGs.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from telco_dw import config
from telco_dw.config import Config
from telco_dw.errors import UserError
from telco_dw.quality import docs
from telco_dw.quality.results import ExpectationResult, ValidationOutcome, observed_value, store, summarize_expectation
from telco_dw.quality.spec import SuiteDefinitionError, SuiteSpec, severity_of
from telco_dw.warehouse.connection import describe, sqlalchemy_url, warehouse_url

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

#: GX result format for every validation: counts and percentages, no unexpected values, no rows,
#: no index lists. ``exclude_unexpected_values`` and a zero sample mean GX never fetches a value.
RESULT_FORMAT: Final[dict[str, Any]] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "exclude_unexpected_values": True,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}

_DATASOURCE = "warehouse"
_BATCH = "whole_table"


def libpq_url(target: Config | str) -> str:
    """The warehouse's ``postgresql://`` URL from a :class:`Config` or a URL with or without a driver."""
    url = warehouse_url(target) if isinstance(target, Config) else target
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        raise UserError(f"not a PostgreSQL URL: {describe(url)!r}; give postgresql://user@host:port/database.")
    if not parts.hostname or parts.hostname.startswith("/"):
        raise UserError(
            f"the warehouse URL {describe(url)!r} names no TCP host; GX needs one, "
            "e.g. postgresql://user@127.0.0.1:5432/telco_dw."
        )
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


@contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection]:
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot connect to the warehouse at {describe(url)} to validate data: {first}; "
            "check that it is running and that WAREHOUSE_URL (or the URL given) is right."
        ) from exc
    try:
        yield conn
    finally:
        conn.close()


def _require_table(conn: psycopg.Connection, spec: SuiteSpec, url: str) -> None:
    row = conn.execute("select to_regclass(%s) is not null", (spec.qualified_table,)).fetchone()
    if not (row and row[0]):
        raise UserError(
            f"GX suite {spec.name!r} targets {spec.qualified_table}, which does not exist in {describe(url)}; "
            "build it first (dbt build) or point the suite at the right schema."
        )


def context_config(home: Path, site: Path) -> Any:
    """A GX context whose suites and validation results are kept under ``home`` (so the Data Docs site
    at ``site`` indexes every suite and run, not only the last), the rest in memory."""
    from great_expectations.data_context.types.base import DataContextConfig

    def files(folder: Path) -> dict[str, str]:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)}

    memory = {"class_name": "InMemoryStoreBackend"}
    return DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": files(home / "expectations")},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": files(home / "validations"),
            },
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": memory},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            "local": {
                "class_name": "SiteBuilder",
                "store_backend": files(site),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
    )


def _validate(url: str, specs: Sequence[SuiteSpec], home: Path, site: Path, name: str) -> list[list[ExpectationResult]]:
    """Every suite of ``specs`` validated in one GX context: one datasource (engine) per schema, one
    checkpoint named ``name`` running a validation definition per suite, its Data Docs action once at
    the end. The results per suite, in the order of ``specs``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.datasource.fluent.postgres_datasource import PostgresDatasource
    from great_expectations.datasource.fluent.sql_datasource import QueryAsset, TableAsset

    context = gx.get_context(project_config=context_config(home, site), mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasources: dict[str, PostgresDatasource] = {}
    suites: list[Any] = []
    definitions: list[Any] = []
    try:
        for i, spec in enumerate(specs):
            datasource = datasources.get(spec.schema)
            if datasource is None:
                # The schema goes in the connection (search_path), as GX 1.14+ asks:
                # TableAsset.schema_name is deprecated. ``kwargs`` (create_engine arguments) is a field
                # of the model that the add_postgres stub does not declare, hence the datasource object.
                datasource = datasources[spec.schema] = context.data_sources.add_postgres(
                    datasource=PostgresDatasource(
                        name=f"{_DATASOURCE}_{spec.schema}",
                        connection_string=sqlalchemy_url(url, "psycopg2"),
                        kwargs={"connect_args": {"options": f"-csearch_path={spec.schema}"}},
                    )
                )
            asset: QueryAsset | TableAsset
            # two suites may read one table; the name ends up in file names and links of the Data Docs
            asset_name = spec.table if spec.table not in datasource.get_asset_names() else f"{spec.table}_{i}"
            if spec.row_filter:  # a slice of the table (e.g. one ingest run's batches)
                query = f"select * from {spec.schema}.{spec.table} where {spec.row_filter}"
                asset = datasource.add_query_asset(name=asset_name, query=query)
            else:
                asset = datasource.add_table_asset(name=asset_name, table_name=spec.table)
            suite = spec.suite()
            if any(s.name == suite.name for s in suites):  # the same suite on another table: a name of its own
                suite.name = f"{suite.name}@{spec.qualified_table}"
            suite = _save_suite(context, suite)
            suites.append(suite)
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=f"{spec.name}@{spec.qualified_table}",
                        data=asset.add_batch_definition_whole_table(_BATCH),
                        suite=suite,
                    )
                )
            )
        # through a checkpoint, so the results are kept in the file store and the Data Docs site updated
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=definitions,
                actions=[UpdateDataDocsAction(name="data_docs")],
                result_format=dict(RESULT_FORMAT),
            )
        )
        by_suite = {v.suite_name: v for v in checkpoint.run().run_results.values()}
    finally:
        for datasource in datasources.values():
            datasource.get_engine().dispose()
    return [_results(spec, suite, by_suite[suite.name]) for spec, suite in zip(specs, suites, strict=True)]


def _results(spec: SuiteSpec, suite: Any, validation: Any) -> list[ExpectationResult]:
    """GX's result of one suite as the project's evidence rows, in suite order."""
    order = {expectation.id: i for i, expectation in enumerate(suite.expectations)}
    results: list[tuple[int, ExpectationResult]] = []
    for item in validation.results:
        cfg = item.expectation_config
        if cfg is None:  # pragma: no cover - GX always sets it for suite validations
            raise SuiteDefinitionError(f"GX returned a result without its expectation for suite {spec.name!r}.")
        kwargs = dict(cfg.kwargs)
        severity = severity_of(cfg.meta)
        if severity is None:  # pragma: no cover - SuiteSpec.suite() already refused such a suite
            raise SuiteDefinitionError(f"suite {spec.name!r}: {cfg.type} has no severity.")
        column = kwargs.get("column")
        results.append(
            (
                order.get(cfg.id, len(order)),
                ExpectationResult(
                    # a SQL check is named by its description, not its (long) query
                    expectation=f"{cfg.type}({cfg.description})"
                    if getattr(cfg, "description", None)
                    else summarize_expectation(cfg.type, kwargs),
                    expectation_type=cfg.type,
                    column=column if isinstance(column, str) else None,
                    severity=severity,
                    success=bool(item.success),
                    observed_value=observed_value(cfg.type, kwargs, item.result, item.exception_info),
                ),
            )
        )
    results.sort(key=lambda pair: pair[0])
    return [r for _, r in results]


def run_suite(target: Config | str, spec: SuiteSpec, run_id: str, publish_docs: bool = True) -> ValidationOutcome:
    """Validate ``spec``'s table with GX Core and record one ``audit.dq_results`` row per expectation:
    :func:`run_suites` of one suite."""
    [outcome] = run_suites(target, [spec], run_id, publish_docs=publish_docs, name=spec.name)
    return outcome


def run_suites(
    target: Config | str,
    specs: Sequence[SuiteSpec],
    run_id: str,
    publish_docs: bool = True,
    name: str = "gate",
) -> list[ValidationOutcome]:
    """Validate each suite's table with GX Core, in one GX context and one checkpoint (``name``), and
    record one ``audit.dq_results`` row per expectation. One outcome per suite, in ``specs`` order.

    Guarantees:
    - each table (or the rows of ``spec.row_filter``) is validated as one batch, read-only; GX
      returns no unexpected values or rows (SQL checks of ``expectations/`` select row numbers only),
      so neither the outcome nor ``audit.dq_results`` holds a value read from a row;
    - each outcome has one result per expectation, in suite order, and the same rows are in
      ``audit.dq_results`` (replacing any earlier rows of this ``run_id``, suite and table) before it returns;
    - it does not raise for failed expectations: inspect ``outcome.critical_failures`` (see
      :func:`telco_dw.quality.failure_message`). It raises :class:`UserError` when the warehouse is
      unreachable, a table does not exist (before validating anything), or a suite is malformed.

    ``target`` is a :class:`Config` (its warehouse) or a PostgreSQL URL with a TCP host. With
    ``publish_docs`` the project's quality site is rewritten after it (GX's own pages are updated by
    the checkpoint either way; :func:`telco_dw.quality.gate.validate` publishes once, at its end).
    """
    url = libpq_url(target)
    if not run_id:
        raise UserError("run_suite needs a run_id (e.g. '<dag_id>/<run_id>') to key its evidence.")
    if not specs:
        return []
    with _connect(url) as conn:
        for spec in specs:
            _require_table(conn, spec, url)
    validated_at = datetime.now(UTC)
    settings = config.load()
    with _suites_locked(settings.home / "gx", specs):
        per_suite = _validate(url, specs, settings.home / "gx", docs.gx_site(settings), name)
    outcomes = [
        ValidationOutcome(
            run_id=run_id,
            suite=spec.name,
            table=spec.qualified_table,
            validated_at=validated_at,
            results=tuple(results),
        )
        for spec, results in zip(specs, per_suite, strict=True)
    ]
    with _connect(url) as conn:
        for outcome in outcomes:
            store(conn, outcome)
            log.info("GX suite %s on %s (run %s): %s", outcome.suite, outcome.table, outcome.run_id, outcome.counts())
        if publish_docs:
            docs.publish(conn, settings, since=validated_at)
    return outcomes


@contextmanager
def _suites_locked(home: Path, specs: Sequence[SuiteSpec]) -> Iterator[None]:
    """An exclusive lock per suite under ``home`` while a run saves and validates it. GX's file
    store rewrites a suite's file in place, and a run validating the same suite at once (an Airflow
    backfill's overlapping runs) read it half-written, or found it changed under its validation
    definition, and failed. Taken in sorted order, so two runs never wait on each other; runs of
    other suites (the marts' gate beside an ingest) are not held up."""
    folder = home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for suite in sorted({spec.name for spec in specs}):
            digest = hashlib.sha256(suite.encode()).hexdigest()[:16]
            handle = stack.enter_context((folder / f"{digest}.lock").open("w"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _save_suite(context: Any, suite: Any) -> Any:
    """``add_or_update`` of GX's suite store, which checks for the key, then adds it: two runs
    validating the same raw table at once (an Airflow backfill's overlapping runs) can both find it
    missing, and the second add fails ("Store already has the following key"). The suite is the
    same in both; the retry finds it and updates it."""
    try:
        return context.suites.add_or_update(suite)
    except Exception as exc:  # GX raises its own error types, wrapping the store's
        if "already has the following key" not in str(exc):
            raise
    return context.suites.add_or_update(suite)

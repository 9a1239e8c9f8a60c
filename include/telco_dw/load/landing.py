"""Land a source: ask its extract module for batches, land each (see :mod:`telco_dw.load.batch`).

Where each source is read from is an :class:`Endpoints` value: the DAG tasks build it from Airflow
connections, the CLI from configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.errors import UserError
from telco_dw.load import ddl
from telco_dw.load.batch import Batch, BatchResult, land_batch

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    """Where the four sources are: landing files, the billing database, the CRM API."""

    landing_url: str
    billing_url: str | None = None
    crm_url: str | None = None
    crm_token: str | None = None


def _batches(conn: psycopg.Connection, source: str, endpoints: Endpoints, end: datetime) -> Iterator[Batch]:
    before = end.date()  # files: whole days that ended before the interval's end
    if source == "network":
        from telco_dw.sources.network import extract as network

        yield from network.batches(endpoints.landing_url, before)
    elif source == "survey":
        from telco_dw.sources.survey import extract as survey

        yield from survey.batches(endpoints.landing_url, before)
    elif source == "billing":
        from telco_dw.sources.billing import extract as billing

        if not endpoints.billing_url:
            raise UserError(
                "no billing source database: set BILLING_SOURCE_URL or the Airflow connection billing_source"
            )
        yield from billing.batches(conn, endpoints.billing_url, end)
    elif source == "crm":
        from telco_dw.sources.crm import extract as crm

        if not endpoints.crm_url or not endpoints.crm_token:
            raise UserError(
                "no CRM API: start the simulator with `telco-dw sources serve`, or set CRM_API_URL and "
                "CRM_API_TOKEN (Airflow connection crm_api)"
            )
        yield from crm.batches(conn, endpoints.crm_url, endpoints.crm_token, end)
    else:
        raise UserError(f"unknown source {source!r}")


def land_source(conn: psycopg.Connection, source: str, endpoints: Endpoints, end: datetime | date) -> list[BatchResult]:
    """Land what ``source`` has for the data interval ending at ``end``; idempotent per interval.

    Files: every file of a day before ``end`` not landed yet (or changed). API and database:
    records updated between the watermark and ``end``.
    """
    conn.autocommit = True  # each batch is its own transaction (see land_batch)
    if isinstance(end, date) and not isinstance(end, datetime):
        end = datetime.combine(end, time(), tzinfo=UTC)
    with conn.transaction():
        ddl.ensure_all(conn)
    results = []
    try:
        for n, batch in enumerate(_batches(conn, source, endpoints, end), start=1):
            result = land_batch(conn, batch)
            results.append(result)
            log.info(
                "%s [%d] %s -> %s: %s, %d read, %d landed, %d quarantined in %.2fs%s",
                source, n, result.source_ref, result.table, result.status, result.rows_read, result.rows_landed,
                result.rows_quarantined, result.seconds, f" (drift: {result.notes})" if result.notes else "",
            )  # fmt: skip
    except FileNotFoundError as exc:
        raise UserError(
            f"landing folder {exc.args[0]} does not exist: deliver files with `telco-dw sources serve` "
            "(the simulator) or set LANDING_URL"
        ) from exc
    analyze(conn, results)
    return results


def analyze(conn: psycopg.Connection, results: list[BatchResult]) -> None:
    """Refresh the planner statistics of every raw table that got rows. The transform starts as soon
    as the landings' Assets say so, before autovacuum has looked at the new rows: with the statistics
    of a nearly empty table, the planner chose nested loops for a staging join that then took six
    minutes instead of a second (dbt's relationships test of invoices to accounts, 100k customers,
    docs/performance.md). ``analyze`` reads a sample, not the table: well under a second each."""
    for table in sorted({r.table for r in results if r.rows_landed}):
        conn.execute(f"analyze {table}")


def land_crm_export(conn: psycopg.Connection, path: Path, mapping: Path, as_of: datetime) -> BatchResult:
    """Land the CRM bulk export ``path`` under ``mapping`` as one batch (see :mod:`telco_dw.sources.crm.bulk`).

    Idempotent: the same file, mapping and ``as_of`` again is skipped; a changed one replaces its batch.
    """
    from telco_dw.sources.crm.bulk import export_batch

    conn.autocommit = True
    with conn.transaction():
        ddl.ensure_all(conn)
    result = land_batch(conn, export_batch(path, mapping, as_of))
    analyze(conn, [result])
    log.info(
        "crm export %s -> %s: %s, %d read, %d landed, %d quarantined in %.2fs (%s)",
        result.source_ref, result.table, result.status, result.rows_read, result.rows_landed,
        result.rows_quarantined, result.seconds, result.notes,
    )  # fmt: skip
    return result

"""Build, audit and publish the marts outside Airflow: what the transform DAG does after its
privacy preparation, as one call (``telco-dw privacy erase``, the tests, the benchmarks).

The same steps and rules as the DAG (``dags/transform.py``): :func:`telco_dw.warehouse.publish.begin`,
``dbt build`` into ``marts_candidate``, the gate suites (``pii.*``, ``marts.*``) on the candidate,
then :func:`telco_dw.warehouse.publish.publish_or_refuse`. :func:`rebuild_after_erasure` is
``telco-dw privacy erase``'s.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telco_dw.errors import UserError
from telco_dw.quality import gate
from telco_dw.transform import dbt
from telco_dw.warehouse import publish

log = logging.getLogger(__name__)


def rebuild(url: str, run_id: str | None = None, *, full_refresh: bool = False) -> publish.Publication:
    """Build the candidate (``--full-refresh`` with ``full_refresh``), validate it and publish it.

    ``run_id`` keys the evidence in ``audit.dq_results`` and the row of ``audit.publications``
    (default ``rebuild/<UTC time>``). Raises :class:`UserError` when dbt fails and
    :class:`~telco_dw.warehouse.publish.PublishRefused` when the gate does: ``marts`` is then unchanged.
    """
    import psycopg

    from telco_dw import config
    from telco_dw.transform import manifest

    cfg = config.load()
    manifest.ensure(cfg, url)  # `dbt parse` only when the project changed since the last one
    run_id = run_id or f"rebuild/{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}"
    incremental = manifest.incremental_marts(manifest.checked(cfg))
    with psycopg.connect(url) as conn, conn.transaction():
        publish.begin(conn, run_id, incremental)
    try:
        dbt.run(["build", *(["--full-refresh"] if full_refresh else [])], url, production=True)
    except UserError as exc:
        with psycopg.connect(url) as conn, conn.transaction():
            publish.refuse(conn, run_id, f"dbt build failed: {exc}")
        raise
    specs = gate.select(publish.GATE_SUITES, publish.CANDIDATE_SCHEMAS)
    outcome = gate.validate(url, specs, run_id)
    log.info("quality gate of run %s: %s", run_id, outcome.counts())
    return publish.publish_or_refuse(url, run_id, specs, incremental)


def rebuild_after_erasure(url: str, run_id: str) -> publish.Publication:
    """What ``telco-dw privacy erase`` does once the raw rows are erased: :func:`rebuild` in full
    (incremental facts would keep the erased customer's older days), published, then
    :func:`telco_dw.warehouse.publish.discard` of what the candidate held of the marts published
    before (it keeps the facts brought up to this publish, so the next build does not copy them)."""
    import psycopg

    done = rebuild(url, run_id, full_refresh=True)
    with psycopg.connect(url) as conn, conn.transaction():
        publish.discard(conn)
    return done

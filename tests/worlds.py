"""How a simulated world reaches a warehouse without Airflow: its sources served the way the real
systems would be (billing OLTP, files in a landing folder, the CRM API), then every source landed by
the code the ingest DAG tasks run (``load.landing.land_source``).

Used by the ``landed_world`` fixture (``tests/conftest.py``) and by the pipeline benchmark
(``tests/bench/``), which lands a world and then one more day of it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg

from telco_dw import sources
from telco_dw.load.batch import BatchResult
from telco_dw.load.landing import Endpoints, land_source
from telco_dw.simulate.deliver import deliver
from telco_dw.sources.billing import oltp
from telco_dw.sources.crm.api import CrmApiServer

TOKEN = "landed-world-token"


def serve(outbox: Path, billing_url: str, landing: Path, end: date) -> None:
    """The world's sources as they stand at ``end``: billing applied through the day before, the files
    delivered a week past it (the late ones are due by then). Idempotent."""
    with psycopg.connect(billing_url, autocommit=True) as conn:
        oltp.advance(conn, outbox, end - timedelta(days=1))
    deliver(outbox, str(landing), end + timedelta(days=7))


def land(
    url: str, billing_url: str, outbox: Path, end: date, landing: Path, *, crm_as_of_end: bool = False
) -> list[BatchResult]:
    """Land every source for the data interval ending at ``end`` (the CRM through an in-process API
    simulator on a free port); what was landed before is not landed again.

    The CRM API serves each record's latest version in the outbox, as a CRM would at the world's end;
    ``crm_as_of_end`` serves it as it stood at ``end`` instead (`telco-dw sources serve --through`),
    for a world that goes on past ``end``: else a record changed after ``end`` is missed.
    """
    as_of = datetime.combine(end, time(), tzinfo=UTC) if crm_as_of_end else None
    with CrmApiServer(outbox, TOKEN, as_of=as_of) as api, psycopg.connect(url, autocommit=True) as conn:
        endpoints = Endpoints(str(landing), billing_url=billing_url, crm_url=api.url, crm_token=TOKEN)
        return [result for source in sources.SOURCES for result in land_source(conn, source, endpoints, end)]


def land_world(url: str, billing_url: str, outbox: Path, end: date, landing: Path) -> list[BatchResult]:
    """:func:`serve` then :func:`land`: the world in ``outbox`` landed through ``end`` into ``url``."""
    serve(outbox, billing_url, landing, end)
    return land(url, billing_url, outbox, end, landing)

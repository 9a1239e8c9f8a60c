"""Every Airflow Asset of the project, declared once.

Ingest DAGs emit one Asset per raw table they land; the transform DAG is scheduled on all of them
and emits one Asset per mart it publishes (one per dbt model under ``models/marts/``). Names are
schema-qualified table names, so they do not depend on the warehouse's host or port.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow.sdk import Asset

from telco_dw import sources

RAW: dict[str, list[Asset]] = {
    source: [
        Asset(name=t.qualified, uri=f"telco-dw://warehouse/{t.schema}/{t.name}", group="raw")
        for t in sources.tables(source)
    ]
    for source in sources.SOURCES
}
"""Raw-table Assets per source, e.g. ``RAW["crm"]``."""

ALL_RAW: list[Asset] = [asset for source in sources.SOURCES for asset in RAW[source]]


def mart(name: str) -> Asset:
    """The Asset of the mart table ``marts.<name>``, emitted by the transform DAG once the marts pass
    their quality gate. (Cosmos also emits its own Asset per model, named after the warehouse's host
    and port; these names do not depend on where the warehouse runs.)"""
    return Asset(name=f"marts.{name}", uri=f"telco-dw://warehouse/marts/{name}", group="marts")


def marts(names: Iterable[str]) -> list[Asset]:
    """Mart Assets for the dbt models ``names`` (the transform DAG takes them from the dbt manifest)."""
    return [mart(name) for name in names]

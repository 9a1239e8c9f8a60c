"""One package per source system. Each declares the tables it lands (``schema.TABLES``).

The four sources, in landing order: ``crm``, ``billing``, ``network``, ``survey``.
"""

from __future__ import annotations

from importlib import import_module

from telco_dw.sources.schema import Table

SOURCES: tuple[str, ...] = ("crm", "billing", "network", "survey")


def tables(source: str) -> tuple[Table, ...]:
    """The raw tables a source lands, as declared in ``telco_dw.sources.<source>.schema``."""
    if source not in SOURCES:
        raise KeyError(f"unknown source {source!r}; known sources: {', '.join(SOURCES)}")
    module = import_module(f"telco_dw.sources.{source}.schema")
    return tuple(module.TABLES)

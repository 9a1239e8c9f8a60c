"""GX suites of telco-dw as plain Python, one module per layer (``marts.py``, later ``raw_<source>.py``, ``pii.py``).

A layer module defines ``suites() -> list[SuiteSpec]``; this package collects them all, in module
name order. Modules must stay cheap to import: build GX objects inside the suite functions, never at
module level (Airflow imports this while running tasks, and Great Expectations takes ~10 s to load).

Load suites through :func:`telco_dw.quality.get_suite`, which finds this folder even when the
repository root is not on ``sys.path``.
"""

from __future__ import annotations

import importlib
import pkgutil

from telco_dw.quality.spec import SuiteSpec


def suites() -> list[SuiteSpec]:
    """Every suite of every layer module in this package."""
    found: list[SuiteSpec] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        layer_suites = getattr(module, "suites", None)
        if callable(layer_suites):
            found.extend(layer_suites())
    return found

"""Find the suites declared under ``expectations/`` (at the repository root) by name.

The ``expectations`` folder is not part of the installed ``telco_dw`` package, and neither Airflow's
workers nor pytest put the repository root on ``sys.path``; this module loads it from
``Config.repo / "expectations"`` as the top-level package ``expectations``. Loading it is cheap:
suite modules import Great Expectations only when a suite is built.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from telco_dw import config
from telco_dw.errors import UserError
from telco_dw.quality.spec import SuiteSpec

PACKAGE = "expectations"


def _load_package(folder: Path) -> ModuleType:
    loaded = sys.modules.get(PACKAGE)
    if loaded is not None:
        return loaded
    init = folder / "__init__.py"
    if not init.is_file():
        raise UserError(
            f"no GX suites at {folder}: the `expectations/` package of the repository is missing; "
            "run from a checkout of telco-dw (or pass the folder that holds the suites)."
        )
    spec = importlib.util.spec_from_file_location(PACKAGE, init, submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:  # pragma: no cover - only for an unreadable folder
        raise UserError(f"cannot load the GX suites package at {folder}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return module


def all_suites(folder: Path | None = None) -> list[SuiteSpec]:
    """Every declared suite, in declaration order; names are unique (a duplicate raises :class:`UserError`)."""
    package = _load_package(folder or config.load().repo / PACKAGE)
    specs: list[SuiteSpec] = list(package.suites())
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UserError(
                f"GX suite {spec.name!r} is declared twice under expectations/; give each suite its own name."
            )
        seen.add(spec.name)
    return specs


def get_suite(name: str, folder: Path | None = None) -> SuiteSpec:
    """The suite called ``name``; an unknown name raises :class:`UserError` listing the known ones."""
    specs = all_suites(folder)
    for spec in specs:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in specs) or "none"
    raise UserError(f"no GX suite named {name!r} under expectations/ (known suites: {known}).")

"""A quality gate: several suites validated together (one GX context and checkpoint), as one verdict.

Both the Airflow operator (``plugins/telco_dw_gx.py``) and the gate outside Airflow
(:func:`telco_dw.transform.rebuild.rebuild`) use it, so they select, retarget and report suites
the same way. The Data Docs are rewritten once, after the last suite.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from telco_dw import config
from telco_dw.errors import UserError
from telco_dw.quality.registry import all_suites
from telco_dw.quality.results import ValidationOutcome, failure_message
from telco_dw.quality.runner import libpq_url, run_suites
from telco_dw.quality.spec import SuiteSpec

log = logging.getLogger(__name__)


def select(patterns: str | Iterable[str], schemas: Mapping[str, str] | None = None) -> list[SuiteSpec]:
    """The declared suites whose names match any of ``patterns`` (``fnmatch``: ``marts.*``), in
    declaration order, each aimed at ``schemas[its schema]`` when the mapping names its schema (e.g.
    ``{"marts": "marts_candidate"}``: validate what dbt built before it is published).

    A pattern that matches nothing raises :class:`UserError`: a typo must not pass a gate by
    validating nothing.
    """
    wanted = [patterns] if isinstance(patterns, str) else list(patterns)
    specs = all_suites()
    for pattern in wanted:
        if not any(fnmatch.fnmatchcase(s.name, pattern) for s in specs):
            raise UserError(f"no GX suite matches {pattern!r} under expectations/")
    chosen = [s for s in specs if any(fnmatch.fnmatchcase(s.name, p) for p in wanted)]
    return [s.targeting(schema=(schemas or {}).get(s.schema, s.schema)) for s in chosen]


@dataclass(frozen=True)
class GateOutcome:
    outcomes: tuple[ValidationOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> list[str]:
        """One message per failed suite, naming suite, table, expectation and observed value."""
        return [failure_message(o) for o in self.outcomes if not o.passed]

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            for key, value in outcome.counts().items():
                totals[key] = totals.get(key, 0) + value
        return totals


def validate(target: config.Config | str, specs: Sequence[SuiteSpec], run_id: str) -> GateOutcome:
    """Validate every suite (none is skipped after a failure: the evidence is complete) in one GX
    context and checkpoint, store the results under ``run_id`` and rewrite the Data Docs once. Failed
    checks do not raise: read :attr:`GateOutcome.passed` and :attr:`GateOutcome.failures`."""
    url = libpq_url(target)
    for spec in specs:
        log.info("validating %s with GX suite %s (evidence run_id %s)", spec.qualified_table, spec.name, run_id)
    outcomes = run_suites(url, specs, run_id, publish_docs=bool(specs))
    return GateOutcome(tuple(outcomes))

"""Validation outcomes: what each expectation found, as evidence that never holds row values.

GX results are reduced here to plain, typed records. The observed value kept for an expectation is
a count, a percentage, a row count or column names, never a value read from a row: personal data
must not leak into ``audit.dq_results``, logs or task failure messages. Aggregates whose observed
value is a row value (a column's min, max, most common value, ...) are withheld.

Nothing in this module imports Great Expectations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telco_dw.quality.spec import CRITICAL, WARNING, Severity

if TYPE_CHECKING:
    import psycopg

MAX_OBSERVED_CHARS = 200

#: Aggregate expectations whose ``observed_value`` is a count or a ratio, never a row value.
COUNT_VALUED = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_table_row_count_to_equal_other_table",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_proportion_of_non_null_values_to_be_between",
        "unexpected_rows_expectation",
    }
)
#: Table-level expectations whose ``observed_value`` is a list of column names (metadata, not data).
COLUMN_NAMES_VALUED = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
    }
)
WITHHELD = "withheld: this check's observed value would be a row value"

_SUMMARY_SKIPPED_KWARGS = frozenset({"batch_id", "result_format", "catch_exceptions", "include_config", "meta"})
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation's verdict: ``expectation`` is ``type(column=..., other kwargs)``."""

    expectation: str
    expectation_type: str
    column: str | None
    severity: Severity
    success: bool
    observed_value: str

    @property
    def status(self) -> str:
        """``PASS`` or ``FAIL``."""
        return "PASS" if self.success else "FAIL"


@dataclass(frozen=True)
class ValidationOutcome:
    """The verdict of one suite on one table in one run (results in suite order)."""

    run_id: str
    suite: str
    table: str
    validated_at: datetime
    results: tuple[ExpectationResult, ...]

    @property
    def critical_failures(self) -> tuple[ExpectationResult, ...]:
        """Failed ``critical`` expectations: any of them means the data must not be published."""
        return tuple(r for r in self.results if not r.success and r.severity == CRITICAL)

    @property
    def warnings(self) -> tuple[ExpectationResult, ...]:
        """Failed ``warning`` expectations: recorded and logged, they do not fail the validation."""
        return tuple(r for r in self.results if not r.success and r.severity == WARNING)

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed (warnings may have)."""
        return not self.critical_failures

    def counts(self) -> dict[str, int]:
        """Evaluated, passed, critical-failed and warning-failed expectation counts."""
        return {
            "evaluated": len(self.results),
            "passed": sum(r.success for r in self.results),
            "critical_failures": len(self.critical_failures),
            "warnings": len(self.warnings),
        }


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def summarize_expectation(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    """``expect_x(column=c, k=v, ...)``: the expectation's type and configured arguments, column first.

    Arguments are the suite's configuration (thresholds, allowed sets), never data.
    """
    items = [(k, v) for k, v in kwargs.items() if k not in _SUMMARY_SKIPPED_KWARGS and v is not None]
    items.sort(key=lambda kv: kv[0] != "column")  # stable: the rest keep their declared order
    return f"{expectation_type}(" + ", ".join(f"{k}={_fmt(v)}" for k, v in items) + ")"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole * 100:.2f}%" if whole else "n/a"


def _redact(message: str, allowed: set[str]) -> str:
    """Keep quoted identifiers the suite itself names; replace any other quoted text (it may be data)."""

    def keep_or_hide(match: re.Match[str]) -> str:
        return match.group(0) if match.group(0)[1:-1] in allowed else match.group(0)[0] + "…" + match.group(0)[-1]

    return _QUOTED.sub(keep_or_hide, message)


def _exception_message(exception_info: Mapping[str, Any] | None) -> str | None:
    """The first exception message in a GX ``exception_info`` (flat, or keyed by metric)."""
    if not exception_info:
        return None
    candidates = [exception_info, *[v for v in exception_info.values() if isinstance(v, Mapping)]]
    for info in candidates:
        if info.get("raised_exception") and info.get("exception_message"):
            return str(info["exception_message"])
    return None


def observed_value(
    expectation_type: str,
    kwargs: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    exception_info: Mapping[str, Any] | None = None,
) -> str:
    """A short, PII-free text of what the check observed (at most ``MAX_OBSERVED_CHARS`` characters).

    - a check that raised: ``error: <message>`` with quoted text other than the suite's own column
      names replaced by ``"…"``;
    - column map checks: ``<n> unexpected of <rows> rows (<pct> of non-null values)[, <m> null]``
      (not-null checks: ``<n> unexpected of <rows> rows (<pct>)``);
    - counts and ratios: the number; table column checks: missing column names;
    - anything else: :data:`WITHHELD`.
    """
    message = _exception_message(exception_info)
    if message is not None:
        allowed = {str(v) for k, v in kwargs.items() if k.startswith("column") and isinstance(v, str)}
        text = "error: " + _redact(message.strip().splitlines()[0] if message.strip() else message, allowed)
        return text[:MAX_OBSERVED_CHARS]
    result = result or {}
    if "unexpected_count" in result and "element_count" in result:
        unexpected = int(result["unexpected_count"] or 0)
        rows = int(result["element_count"] or 0)
        missing = result.get("missing_count")
        text = f"{unexpected} unexpected of {rows} rows"
        if missing is None:  # nulls are what the check counts (not-null checks)
            text += f" ({_pct(unexpected, rows)})"
        else:
            text += f" ({_pct(unexpected, rows - int(missing))} of non-null values)"
            if missing:
                text += f", {int(missing)} null"
        return text[:MAX_OBSERVED_CHARS]
    observed = result.get("observed_value")
    if expectation_type in COUNT_VALUED and isinstance(observed, (int, float)) and not isinstance(observed, bool):
        return _fmt(round(observed, 6) if isinstance(observed, float) else observed)
    if expectation_type in COLUMN_NAMES_VALUED:
        mismatched = (result.get("details") or {}).get("mismatched") or {}
        missing_columns = mismatched.get("missing") if isinstance(mismatched, Mapping) else None
        if missing_columns:
            return ("missing columns: " + ", ".join(map(str, missing_columns)))[:MAX_OBSERVED_CHARS]
        if isinstance(observed, Sequence) and not isinstance(observed, str):
            return f"{len(observed)} columns"
        return "columns as expected" if result else "n/a"
    if not result:
        return "n/a"
    return WITHHELD


def format_failure(outcome: ValidationOutcome, result: ExpectationResult) -> str:
    """One line naming the suite, the table, the expectation, its severity and what it observed."""
    return (
        f"GX suite {outcome.suite!r} on table {outcome.table}: {result.severity} expectation "
        f"{result.expectation} failed; observed: {result.observed_value}"
    )


def failure_message(outcome: ValidationOutcome) -> str:
    """Why a validation failed, for a task failure: each critical failure on its own line (see
    :func:`format_failure`), then where the evidence is and what to do. Holds no row values.
    """
    failed = outcome.critical_failures
    n_critical = sum(r.severity == CRITICAL for r in outcome.results)
    lines = [
        f"data quality gate failed: {len(failed)} of {n_critical} critical expectations of suite "
        f"{outcome.suite!r} failed on {outcome.table} (run {outcome.run_id}).",
        *(f"  - {format_failure(outcome, r)}" for r in failed),
    ]
    if outcome.warnings:
        lines.append(f"  ({len(outcome.warnings)} warning-level expectations also failed; see the evidence.)")
    lines.append(
        f"Evidence: select * from audit.dq_results where run_id = '{outcome.run_id}' and suite = '{outcome.suite}'. "
        f"Fix the upstream data or model that feeds {outcome.table}, then re-run; the data was not published."
    )
    return "\n".join(lines)


DQ_RESULTS_DDL = """
create schema if not exists audit;
create table if not exists audit.dq_results (
    run_id          text not null,
    suite           text not null,
    table_name      text not null,
    expectation     text not null,
    severity        text not null check (severity in ('critical', 'warning')),
    success         boolean not null,
    observed_value  text,
    validated_at    timestamptz not null
);
create index if not exists dq_results_run_idx on audit.dq_results (run_id, suite, table_name);
comment on table audit.dq_results is
    'One row per GX expectation per validation run. Counts and percentages only, never row values.';
"""

# Serialises DDL and replacement of a run's rows between concurrent validations.
_LOCK_KEY = "telco_dw.audit.dq_results"


def store(conn: psycopg.Connection, outcome: ValidationOutcome) -> int:
    """Write the outcome to ``audit.dq_results``, one row per expectation, creating the table if missing.

    Idempotent per (run_id, suite, table): a re-run (task retry, cleared task) replaces that run's
    rows in the same transaction, so the table holds exactly one row per expectation of the latest
    attempt. Returns the number of rows written.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
        exists = conn.execute("select to_regclass('audit.dq_results') is not null").fetchone()
        if not (exists and exists[0]):
            conn.execute(DQ_RESULTS_DDL)
        conn.execute(
            "delete from audit.dq_results where run_id = %s and suite = %s and table_name = %s",
            (outcome.run_id, outcome.suite, outcome.table),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into audit.dq_results (run_id, suite, table_name, expectation, severity, success,"
                " observed_value, validated_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        outcome.run_id,
                        outcome.suite,
                        outcome.table,
                        r.expectation,
                        r.severity,
                        r.success,
                        r.observed_value,
                        outcome.validated_at,
                    )
                    for r in outcome.results
                ],
            )
    return len(outcome.results)

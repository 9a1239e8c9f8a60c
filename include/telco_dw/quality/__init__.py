"""Data quality: run the GX suites of ``expectations/``, store the evidence, gate publishing.

Cheap to import (Great Expectations is loaded only when a suite is built or run)::

    from telco_dw.quality import get_suite, run_suite, failure_message

    outcome = run_suite(config.load(), get_suite("marts.dim_customers"), run_id="transform/manual__1")
    if not outcome.passed:
        raise SystemExit(failure_message(outcome))
"""

from telco_dw.quality.registry import all_suites, get_suite
from telco_dw.quality.results import (
    DQ_RESULTS_DDL,
    ExpectationResult,
    ValidationOutcome,
    failure_message,
    format_failure,
    observed_value,
    store,
    summarize_expectation,
)
from telco_dw.quality.runner import RESULT_FORMAT, libpq_url, run_suite
from telco_dw.quality.spec import (
    CRITICAL,
    SEVERITIES,
    WARNING,
    Severity,
    SuiteDefinitionError,
    SuiteSpec,
    critical,
    severity_of,
    warning,
)

__all__ = [
    "CRITICAL",
    "DQ_RESULTS_DDL",
    "RESULT_FORMAT",
    "SEVERITIES",
    "WARNING",
    "ExpectationResult",
    "Severity",
    "SuiteDefinitionError",
    "SuiteSpec",
    "ValidationOutcome",
    "all_suites",
    "critical",
    "failure_message",
    "format_failure",
    "get_suite",
    "libpq_url",
    "observed_value",
    "run_suite",
    "severity_of",
    "store",
    "summarize_expectation",
    "warning",
]

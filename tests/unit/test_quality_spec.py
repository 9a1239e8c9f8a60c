"""Quality layer pieces that need neither PostgreSQL nor Great Expectations (fast)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telco_dw.errors import UserError
from telco_dw.quality import (
    ExpectationResult,
    SuiteDefinitionError,
    SuiteSpec,
    ValidationOutcome,
    all_suites,
    failure_message,
    get_suite,
    observed_value,
    summarize_expectation,
)
from telco_dw.quality.results import WITHHELD

REPO = Path(__file__).resolve().parents[2]


def _no_suite() -> object:
    raise AssertionError("not built in unit tests")


def test_operator_module_and_suite_registry_import_without_gx() -> None:
    code = (
        "import sys; sys.path.insert(0, 'plugins');"
        "import telco_dw_gx;"
        "from telco_dw.quality import get_suite; get_suite('marts.dim_customers');"
        "assert 'great_expectations' not in sys.modules, 'GX imported';"
        "assert 'psycopg' not in sys.modules and 'psycopg2' not in sys.modules, 'DB driver imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_registry_knows_the_mart_suite_and_its_target() -> None:
    spec = get_suite("marts.dim_customers")
    assert (spec.schema, spec.table) == ("marts", "dim_customers")
    assert "marts.dim_customers" in [s.name for s in all_suites()]
    with pytest.raises(UserError, match=r"known suites: .*marts\.dim_customers"):
        get_suite("marts.no_such_suite")


def test_targeting_keeps_the_checks_and_rejects_odd_identifiers() -> None:
    spec = get_suite("marts.dim_customers")
    moved = spec.targeting(schema="marts_candidate")
    assert moved.qualified_table == "marts_candidate.dim_customers"
    assert moved.build is spec.build and moved.name == spec.name
    with pytest.raises(SuiteDefinitionError, match="identifier"):
        SuiteSpec(name="x", schema="marts; drop table x", table="t", build=_no_suite)  # type: ignore[arg-type]


def test_a_relationship_check_reads_the_dimension_of_the_schema_it_validates() -> None:
    """The candidate's facts are checked against the candidate's dim_customers, not the published one."""
    spec = get_suite("marts.fct_complaints")
    queries = {
        schema: [
            q
            for e in spec.targeting(schema=schema).suite().expectations
            if (q := getattr(e, "unexpected_rows_query", None))
        ]
        for schema in ("marts", "marts_candidate")
    }
    assert any("marts_candidate.dim_customers" in q for q in queries["marts_candidate"])
    assert any(" marts.dim_customers" in q for q in queries["marts"])
    assert not [q for qs in queries.values() for q in qs if "__schema__" in q]


def test_expectation_summary_puts_the_column_first_and_drops_noise() -> None:
    text = summarize_expectation(
        "expect_column_values_to_be_between",
        {"batch_id": "warehouse-dim_customers", "min_value": 0.0, "max_value": 10.0, "column": "last_nps_score"},
    )
    assert text == "expect_column_values_to_be_between(column=last_nps_score, min_value=0, max_value=10)"


@pytest.mark.parametrize(
    ("expectation_type", "result", "expected"),
    [
        (
            "expect_column_values_to_be_in_set",
            {"element_count": 10, "unexpected_count": 2, "missing_count": 2, "partial_unexpected_list": ["SECRET"]},
            "2 unexpected of 10 rows (25.00% of non-null values), 2 null",
        ),
        (
            "expect_column_values_to_not_be_null",
            {"element_count": 4, "unexpected_count": 1},
            "1 unexpected of 4 rows (25.00%)",
        ),
        ("expect_table_row_count_to_be_between", {"observed_value": 0}, "0"),
        ("expect_column_max_to_be_between", {"observed_value": "13800138000"}, WITHHELD),
        (
            "expect_table_columns_to_match_set",
            {"observed_value": ["a"], "details": {"mismatched": {"missing": ["customer_id"]}}},
            "missing columns: customer_id",
        ),
    ],
)
def test_observed_value_holds_counts_never_row_values(expectation_type: str, result: dict, expected: str) -> None:
    assert observed_value(expectation_type, {"column": "c"}, result) == expected


def test_errors_keep_the_suites_column_names_and_hide_other_quoted_text() -> None:
    info = {
        "metric-id": {
            "raised_exception": True,
            "exception_message": 'invalid input syntax for type integer: "13800138000" in column "tenure_months"',
        }
    }
    text = observed_value("expect_column_values_to_be_between", {"column": "tenure_months"}, {}, info)
    assert text == 'error: invalid input syntax for type integer: "…" in column "tenure_months"'


def test_failure_message_names_suite_table_expectation_and_observation() -> None:
    failed = ExpectationResult(
        expectation="expect_column_values_to_be_unique(column=customer_id)",
        expectation_type="expect_column_values_to_be_unique",
        column="customer_id",
        severity="critical",
        success=False,
        observed_value="2 unexpected of 5 rows (40.00% of non-null values)",
    )
    passed = ExpectationResult("expect_table_row_count_to_be_between(min_value=1)", "t", None, "critical", True, "5")
    outcome = ValidationOutcome(
        "transform/manual__1",
        "marts.dim_customers",
        "marts.dim_customers",
        datetime.now(UTC),
        (failed, passed),
    )
    message = failure_message(outcome)
    assert "1 of 2 critical expectations" in message
    assert "expect_column_values_to_be_unique(column=customer_id) failed" in message
    assert "on table marts.dim_customers" in message
    assert "2 unexpected of 5 rows" in message
    assert "run_id = 'transform/manual__1'" in message

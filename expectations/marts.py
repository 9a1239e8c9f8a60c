"""GX suites for the published marts (schema ``marts``).

To add a check, append it to the suite's list wrapped in ``critical(...)`` (failure blocks
publishing) or ``warning(...)`` (failure is recorded and logged). To add a suite for another mart,
write a function returning its ``gx.ExpectationSuite`` and add a :class:`SuiteSpec` to ``SUITES``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telco_dw.quality.spec import SuiteSpec, critical, warning

if TYPE_CHECKING:
    import great_expectations as gx

DIM_CUSTOMERS_COLUMNS = (
    "customer_id",
    "gender",
    "age_band",
    "province",
    "city",
    "tenure_months",
    "monthly_fee",
    "subscription_status",
    "is_churned",
    "churn_type",
    "last_nps_score",
    "last_nps_category",
    "complaint_count",
    "invoice_count",
    "billed_amount_excl_tax",
)
SUBSCRIPTION_STATUSES = ["active", "suspended", "churned"]
CHURN_TYPES = ["voluntary", "involuntary"]
NPS_CATEGORIES = ["promoter", "passive", "detractor"]


def dim_customers() -> gx.ExpectationSuite:
    """One row per customer: identity, status, churn and satisfaction (the customer 360).

    Critical: the table is non-empty and has its columns, ``customer_id`` is a key, NPS scores are on
    the 0..10 scale and every customer has a known subscription status (the churn KPIs filter on it).
    Warning: counts and amounts are non-negative, categorical columns hold known values (nulls allowed
    where the business allows them: no churn type for a non-churned customer, no NPS category without
    a survey answer).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import Expectation

    def non_negative(column: str) -> Expectation:
        return warning(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))

    return gx.ExpectationSuite(
        name="marts.dim_customers",
        expectations=[
            critical(gxe.ExpectTableRowCountToBeBetween(min_value=1)),
            critical(gxe.ExpectTableColumnsToMatchSet(column_set=list(DIM_CUSTOMERS_COLUMNS), exact_match=False)),
            critical(gxe.ExpectColumnValuesToNotBeNull(column="customer_id")),
            critical(gxe.ExpectColumnValuesToBeUnique(column="customer_id")),
            critical(gxe.ExpectColumnValuesToBeBetween(column="last_nps_score", min_value=0, max_value=10)),
            critical(gxe.ExpectColumnValuesToNotBeNull(column="subscription_status")),
            critical(gxe.ExpectColumnValuesToBeInSet(column="subscription_status", value_set=SUBSCRIPTION_STATUSES)),
            warning(gxe.ExpectColumnValuesToNotBeNull(column="is_churned")),
            warning(gxe.ExpectColumnValuesToBeInSet(column="churn_type", value_set=CHURN_TYPES)),
            warning(gxe.ExpectColumnValuesToBeInSet(column="last_nps_category", value_set=NPS_CATEGORIES)),
            non_negative("tenure_months"),
            non_negative("monthly_fee"),
            non_negative("complaint_count"),
            non_negative("invoice_count"),
            non_negative("billed_amount_excl_tax"),
        ],
    )


SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="marts.dim_customers",
        schema="marts",
        table="dim_customers",
        build=dim_customers,
        description="Customer 360 dimension: key, status, churn and satisfaction checks.",
    ),
)


def suites() -> list[SuiteSpec]:
    """The mart suites."""
    return list(SUITES)

"""GX suites for the marts (declared on schema ``marts``; the transform's gate runs them on
``marts_candidate`` before it is published, see docs/quality.md).

To add a check, append it to the suite's list wrapped in ``critical(...)`` (failure blocks
publishing) or ``warning(...)`` (failure is recorded and logged). To add a suite for another mart,
write a function returning its ``gx.ExpectationSuite`` and add a :class:`SuiteSpec` to ``SUITES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from telco_dw.quality.spec import SAME_SCHEMA, SuiteSpec, critical, warning

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

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


RAW_REVENUE_BY_MONTH = """
select mart.month_start_date from (
    select month_start_date, sum(revenue_excl_tax) as revenue from {batch} group by 1
) as mart
join (
    select date_trunc('month', i.billing_month)::date as month_start_date, sum(i.amount_excl_tax) as revenue
    from (
        select distinct on (invoice_id) invoice_id, account_id, billing_month, amount_excl_tax
        from raw_billing.invoices order by invoice_id, updated_at desc nulls last, _loaded_at desc, _row_number desc
    ) as i
    join (
        select distinct on (account_id) account_id, customer_id
        from raw_billing.accounts order by account_id, updated_at desc nulls last, _loaded_at desc, _row_number desc
    ) as a on a.account_id = i.account_id
    where a.customer_id in (select customer_id from raw_crm.customers)
    group by 1
) as raw on raw.month_start_date = mart.month_start_date
where abs(mart.revenue - raw.revenue) > 0.005
"""
"""Months whose billed revenue in the mart differs from the raw invoices' (latest version of each
invoice and account, customers the CRM knows), by more than half a fen."""


def fct_billing_monthly() -> gx.ExpectationSuite:
    """Customer x month billing: key, and reconciliation with the raw billing totals month by month."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name="marts.fct_billing_monthly",
        expectations=[
            critical(gxe.ExpectColumnValuesToNotBeNull(column="customer_month_id")),
            critical(gxe.ExpectColumnValuesToBeUnique(column="customer_month_id")),
            references_customer(),
            critical(
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query=RAW_REVENUE_BY_MONTH,
                    description="billed revenue of each month equals the raw invoices' total",
                )
            ),
            critical(gxe.ExpectColumnValuesToBeBetween(column="subscriber_months", min_value=0, max_value=1)),
            warning(gxe.ExpectColumnValuesToBeBetween(column="arpu", min_value=0)),
        ],
    )


def fct_satisfaction_monthly() -> gx.ExpectationSuite:
    """Month x region x segment: the key and every metric on its scale (DOMAIN.md)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    rates = ("sla_24h_response_rate", "sla_48h_resolution_rate", "fcr_rate", "churn_rate", "ces_agree_rate")
    return gx.ExpectationSuite(
        name="marts.fct_satisfaction_monthly",
        expectations=[
            critical(gxe.ExpectColumnValuesToBeUnique(column="satisfaction_month_id")),
            critical(gxe.ExpectColumnValuesToBeBetween(column="nps", min_value=-100, max_value=100)),
            critical(gxe.ExpectColumnValuesToBeBetween(column="csat", min_value=0, max_value=100)),
            critical(gxe.ExpectColumnValuesToBeBetween(column="ces", min_value=1, max_value=7)),
            *(critical(gxe.ExpectColumnValuesToBeBetween(column=rate, min_value=0, max_value=1)) for rate in rates),
            warning(gxe.ExpectColumnValuesToBeBetween(column="arpu", min_value=0)),
        ],
    )


def references_customer(column: str = "customer_id") -> Expectation:
    """Critical: every non-null ``column`` is a customer of ``dim_customers`` of the same build (the
    same schema: the candidate's dimension while the candidate is audited). Selects no value."""
    import great_expectations.expectations as gxe

    return critical(
        gxe.UnexpectedRowsExpectation(
            # GX aliases {batch} itself when the query has no join: wrap it to name it
            unexpected_rows_query=f"select 1 from (select * from {{batch}}) as fact where fact.{column} is not null "
            "and not exists "
            f"(select from {SAME_SCHEMA}.dim_customers as c where c.customer_id = fact.{column})",
            description=f"every {column} is a customer of dim_customers",
        )
    )


def keyed(name: str, key: str, *more: Callable[[], Expectation]) -> Callable[[], gx.ExpectationSuite]:
    """A suite that checks a fact's key (present and unique), then the checks ``more`` build."""

    def build() -> gx.ExpectationSuite:
        import great_expectations as gx
        import great_expectations.expectations as gxe

        return gx.ExpectationSuite(
            name=name,
            expectations=[
                critical(gxe.ExpectColumnValuesToNotBeNull(column=key)),
                critical(gxe.ExpectColumnValuesToBeUnique(column=key)),
                *(check() for check in more),
            ],
        )

    return build


def between(column: str, low: float | None, high: float | None = None) -> Callable[[], Expectation]:
    """Critical: ``column`` within ``low``..``high`` (DOMAIN.md's ranges); nulls allowed."""

    def check() -> Expectation:
        import great_expectations.expectations as gxe

        return critical(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))

    return check


def no_gaps(column: str) -> Callable[[], Expectation]:
    """Critical: ``column`` (a date) has every day between its first and last."""

    def check() -> Expectation:
        import great_expectations.expectations as gxe

        return critical(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=f"select 1 from (select * from {{batch}}) as d where d.{column} > "
                f"(select min({column}) from {{batch}}) and not exists "
                f"(select from (select * from {{batch}}) as p where p.{column} = d.{column} - 1)",
                description=f"{column} has no missing day",
            )
        )

    return check


SUITES: tuple[SuiteSpec, ...] = (
    SuiteSpec(
        name="marts.dim_customers",
        schema="marts",
        table="dim_customers",
        build=dim_customers,
        description="Customer 360 dimension: key, status, churn and satisfaction checks.",
    ),
    SuiteSpec(
        name="marts.fct_billing_monthly",
        schema="marts",
        table="fct_billing_monthly",
        build=fct_billing_monthly,
        description="Customer-month billing: key, subscriber months, revenue reconciled with raw billing.",
    ),
    SuiteSpec(
        name="marts.fct_satisfaction_monthly",
        schema="marts",
        table="fct_satisfaction_monthly",
        build=fct_satisfaction_monthly,
        description="The dashboard's table: key, NPS -100..100, CSAT 0..100, CES 1..7, rates 0..1.",
    ),
    SuiteSpec(
        name="marts.fct_complaints",
        schema="marts",
        table="fct_complaints",
        build=keyed("marts.fct_complaints", "ticket_id", references_customer),
        description="One row per ticket, of a known customer.",
    ),
    SuiteSpec(
        name="marts.fct_survey_responses",
        schema="marts",
        table="fct_survey_responses",
        build=keyed("marts.fct_survey_responses", "response_id", references_customer),
        description="One row per response, of a known customer.",
    ),
    SuiteSpec(
        name="marts.fct_network_cell_daily",
        schema="marts",
        table="fct_network_cell_daily",
        build=keyed(
            "marts.fct_network_cell_daily",
            "cell_day_id",
            between("hours_reported", 1, 24),
            between("call_setup_success_rate", 0, 1),
            between("call_drop_rate", 0, 1),
            between("poor_coverage_share", 0, 1),
            between("avg_rsrp_dbm", -156, -31),
            between("avg_sinr_db", -23, 40),
        ),
        description="Cell x day: key, hours 1..24, rates and poor-coverage share 0..1, RSRP and SINR in range.",
    ),
    SuiteSpec(
        name="marts.fct_customer_experience_daily",
        schema="marts",
        table="fct_customer_experience_daily",
        build=keyed(
            "marts.fct_customer_experience_daily",
            "customer_day_id",
            references_customer,
            between("avg_rsrp_dbm", -156, -31),
            between("experience_score", 0, 100),
        ),
        description="Customer x day: key, a known customer, RSRP in range, experience score 0..100.",
    ),
    SuiteSpec(
        name="marts.dim_dates",
        schema="marts",
        table="dim_dates",
        build=keyed("marts.dim_dates", "calendar_date", no_gaps("calendar_date")),
        description="The time spine: one row per day, no day missing.",
    ),
)


def suites() -> list[SuiteSpec]:
    """The mart suites."""
    return list(SUITES)

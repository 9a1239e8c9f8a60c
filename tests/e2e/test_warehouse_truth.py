"""The warehouse is provably right: a simulated world, landed with its dirty data, built by dbt, and
the satisfaction mart rolled up to months equals the simulator's ground truth (``truth.json``).

One world of 600 customers over 40 days from 2026-10-01 (all of October and nine days of
November, so the month in progress is covered too) with the default dirty rate: malformed lines,
out-of-range scores and amounts, orphans, duplicates, late and redelivered files. The pipeline must
quarantine or ignore every dirty record, so the marts match the truth of the clean events exactly:

- counts (responses, complaints, customers active at the month's start, customers lost, revenue)
  are equal;
- each metric, computed from the mart's counts summed over regions and tenure segments the way
  ``simulate/truth.py`` computes it, is equal at truth's precision (4 decimals for NPS, CSAT, CES and
  ARPU, 6 for rates); fct_billing_monthly, summed over customers, gives the same revenue and ARPU;
- every customer of ``truth_customers.csv`` is one row of dim_customers with the truth's churn (time
  and type) and 3-month ARPU.

The world lives in two databases of its own on the test server (``telco_dw_truth_test``, the
warehouse, and ``telco_dw_truth_billing``, the billing OLTP), dropped afterwards; the CRM API is an
in-process simulator on a free port.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from telco_dw import config
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.transform.rebuild import rebuild
from telco_dw.warehouse import publish

pytestmark = pytest.mark.e2e

CUSTOMERS = 600
DAYS = 40
START = date(2026, 10, 1)  # a month's first day: the truth's first month then starts with the month
END = START + timedelta(days=DAYS)
WORLD = SimConfig(customers=CUSTOMERS, days=DAYS, start=START, seed=8)  # default dirty rate
WAREHOUSE_DB = "telco_dw_truth_test"

MONTHLY = """
select
    to_char(month_start_date, 'YYYY-MM') as month,
    max(days_observed) as days_observed,
    sum(nps_response_count) as nps_responses,
    sum(nps_promoter_count) as nps_promoters,
    sum(nps_detractor_count) as nps_detractors,
    sum(csat_response_count) as csat_responses,
    sum(csat_top_2_box_count) as csat_top2,
    sum(ces_response_count) as ces_responses,
    sum(ces_score_sum) as ces_sum,
    sum(complaint_count) as tickets,
    sum(met_24h_response_count) as met_24h_response,
    sum(met_48h_resolution_count) as met_48h_resolution,
    sum(first_contact_resolution_count) as first_contact_resolutions,
    sum(active_at_month_start_count) as active_at_start,
    sum(voluntary_churned_count) as lost_voluntary,
    sum(involuntary_churned_count) as lost_involuntary,
    sum(churned_count) as lost,
    sum(subscriber_days) as subscriber_days,
    sum(revenue_excl_tax) as revenue_excl_tax
from marts.fct_satisfaction_monthly
group by 1
order by 1
"""


def _ratio(num: float, den: float, scale: float = 1.0, digits: int = 6) -> float | None:
    """``simulate/truth.py``'s rounding, so both sides round the same float the same way."""
    return round(scale * num / den, digits) if den else None


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    """The truth file's metrics from the mart's counts of one month."""
    days, subscriber_days = row["days_observed"], int(row["subscriber_days"])
    average_active = subscriber_days / days if days else 0
    return {
        "nps": _ratio(int(row["nps_promoters"] - row["nps_detractors"]), int(row["nps_responses"]), 100, 4),
        "csat": _ratio(int(row["csat_top2"]), int(row["csat_responses"]), 100, 4),
        "ces": _ratio(int(row["ces_sum"]), int(row["ces_responses"]), 1, 4),
        "churn_rate": _ratio(int(row["lost"]), int(row["active_at_start"])),
        "voluntary_churn_rate": _ratio(int(row["lost_voluntary"]), int(row["active_at_start"])),
        "involuntary_churn_rate": _ratio(int(row["lost_involuntary"]), int(row["active_at_start"])),
        "sla_24h_response_rate": _ratio(int(row["met_24h_response"]), int(row["tickets"])),
        "sla_48h_resolution_rate": _ratio(int(row["met_48h_resolution"]), int(row["tickets"])),
        "arpu": round(float(row["revenue_excl_tax"]) / average_active, 4) if average_active else None,
        "revenue_excl_tax": str(row["revenue_excl_tax"]),
        "average_active_subscribers": round(average_active, 4),
        "nps_responses": int(row["nps_responses"]),
        "csat_responses": int(row["csat_responses"]),
        "ces_responses": int(row["ces_responses"]),
        "active_at_start": int(row["active_at_start"]),
        "lost_voluntary": int(row["lost_voluntary"]),
        "lost_involuntary": int(row["lost_involuntary"]),
        "tickets": int(row["tickets"]),
        "simulated_days": days,
    }


COMPARED = [
    "nps", "csat", "ces", "churn_rate", "voluntary_churn_rate", "involuntary_churn_rate",
    "sla_24h_response_rate", "sla_48h_resolution_rate", "arpu", "revenue_excl_tax", "average_active_subscribers",
    "nps_responses", "csat_responses", "ces_responses", "active_at_start", "lost_voluntary", "lost_involuntary",
    "tickets", "simulated_days",
]  # fmt: skip


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("truth_outbox")
    generate(out, WORLD)
    return out


@pytest.fixture(scope="module")
def built(
    warehouse: config.Config, outbox: Path, landed_world, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The world landed (every source, dirty records included), the PII token key held, the marts
    built, audited and published (``rebuild``: what the transform DAG does): the warehouse URL."""
    from telco_dw.privacy import roles, tokens

    with landed_world(WAREHOUSE_DB, outbox, END, tmp_path_factory.mktemp("truth_landing")) as url:
        with psycopg.connect(url) as conn, conn.transaction():  # what the transform DAG's prepare_privacy does
            tokens.install(conn, tokens.key(warehouse))
            roles.apply(conn)
        rebuild(url)
        yield url


@pytest.fixture(scope="module")
def truth(outbox: Path) -> dict[str, dict[str, Any]]:
    return json.loads((outbox / "truth.json").read_text(encoding="utf-8"))["months"]


@pytest.fixture(scope="module")
def monthly(built: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(built, row_factory=dict_row) as conn:
        return {row["month"]: row for row in conn.execute(MONTHLY)}


def test_the_world_crosses_a_month_boundary_with_dirty_data(outbox: Path, truth, built: str) -> None:
    assert list(truth) == ["2026-10", "2026-11"]
    dirty = json.loads((outbox / "manifest.json").read_text(encoding="utf-8"))["dirty"]
    injected = {
        (path.split("/")[0], kind) for kind, files in dirty.items() for path, n in files.items() if n
    }  # (source, kind): this seed's dirt reaches the sources the truth is computed from
    assert {
        ("survey", "orphan"),
        ("survey", "malformed"),
        ("survey", "late"),
        ("survey", "duplicate"),
        ("billing", "out_of_range"),
        ("billing", "duplicate"),
    } <= injected, sorted(injected)
    with psycopg.connect(built) as conn:
        quarantined = conn.execute("select coalesce(sum(rows_quarantined), 0) from audit.load_batches").fetchone()
    assert quarantined is not None and quarantined[0] > 0  # bad rows were held back, not landed


@pytest.mark.parametrize("month", ["2026-10", "2026-11"])
def test_satisfaction_monthly_equals_the_truth(month: str, truth, monthly) -> None:
    assert month in monthly, f"fct_satisfaction_monthly has no rows for {month}"
    expected = {key: truth[month][key] for key in COMPARED}
    actual = {key: _metrics(monthly[month])[key] for key in COMPARED}
    assert actual == expected


def test_months_before_the_window_hold_no_satisfaction_events(monthly) -> None:
    """History invoices reach back before the window; no survey, complaint or churn does."""
    for month, row in monthly.items():
        if month < "2026-10":
            assert (row["nps_responses"], row["tickets"], row["lost"]) == (0, 0, 0), month
    assert max(monthly) == "2026-11"  # nothing after the data's last day


def test_first_contact_resolution_follows_domain_not_truth(built: str, truth, monthly) -> None:
    """truth.py counts a ticket resolved at its first contact as FCR; DOMAIN.md's FCR also excludes
    a repeat complaint within the repeat window. Without the window the mart equals the truth; with it
    the mart's FCR can only be lower."""
    with psycopg.connect(built) as conn:
        rows = conn.execute(
            "select to_char(created_month_start_date, 'YYYY-MM'), count(*), "
            "count(*) filter (where is_resolved_at_first_contact), count(*) filter (where is_first_contact_resolution) "
            "from marts.fct_complaints group by 1"
        ).fetchall()
    for month, tickets, resolved_first, fcr in rows:
        assert _ratio(resolved_first, tickets) == truth[month]["fcr_rate"], month
        assert fcr <= resolved_first and monthly[month]["first_contact_resolutions"] == fcr


def test_dim_customers_dates_every_churn_in_the_truth(built: str, truth) -> None:
    with psycopg.connect(built) as conn:
        lost = {
            (month, kind): n
            for month, kind, n in conn.execute(
                "select to_char(churned_at at time zone 'UTC', 'YYYY-MM'), churn_type, count(*) "
                "from marts.dim_customers where is_churned group by 1, 2"
            )
        }
    for month, facts in truth.items():
        assert lost.get((month, "voluntary"), 0) == facts["lost_voluntary"], month
        assert lost.get((month, "involuntary"), 0) == facts["lost_involuntary"], month
    assert sum(lost.values()) == sum(f["lost_voluntary"] + f["lost_involuntary"] for f in truth.values())


def test_every_survey_response_and_complaint_of_the_world_is_in_the_facts(built: str, truth) -> None:
    with psycopg.connect(built) as conn:
        responses = dict(
            conn.execute("select survey_type, count(*) from marts.fct_survey_responses group by 1").fetchall()
        )
        complaints = conn.execute("select count(*) from marts.fct_complaints").fetchone()
        raw = conn.execute("select count(distinct ticket_id) from raw_crm.tickets").fetchone()
    assert responses == {
        "nps": sum(m["nps_responses"] for m in truth.values()),
        "csat": sum(m["csat_responses"] for m in truth.values()),
        "ces": sum(m["ces_responses"] for m in truth.values()),
    }
    assert complaints is not None and raw is not None
    assert complaints[0] == sum(m["tickets"] for m in truth.values()) <= raw[0]


def test_the_revenue_is_decimal_exact(monthly, truth) -> None:
    for month in truth:
        assert Decimal(str(monthly[month]["revenue_excl_tax"])) == Decimal(truth[month]["revenue_excl_tax"])


BILLING_MONTHLY = """
select
    to_char(month_start_date, 'YYYY-MM') as month,
    max(days_observed) as days_observed,
    sum(subscriber_days) as subscriber_days,
    sum(revenue_excl_tax) as revenue_excl_tax,
    count(*) filter (where is_active_at_month_start) as active_at_start,
    count(*) filter (where churn_type = 'voluntary') as lost_voluntary,
    count(*) filter (where churn_type = 'involuntary') as lost_involuntary
from marts.fct_billing_monthly
group by 1
"""


@pytest.fixture(scope="module")
def customer_truth(outbox: Path) -> dict[str, dict[str, str]]:
    with (outbox / "truth_customers.csv").open(encoding="utf-8", newline="") as handle:
        return {row["customer_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("month", ["2026-10", "2026-11"])
def test_billing_monthly_rolls_up_to_the_truth(built: str, truth, month: str) -> None:
    with psycopg.connect(built, row_factory=dict_row) as conn:
        rows = {row["month"]: row for row in conn.execute(BILLING_MONTHLY)}
    row = rows[month]
    average_active = int(row["subscriber_days"]) / row["days_observed"]
    assert Decimal(str(row["revenue_excl_tax"])) == Decimal(truth[month]["revenue_excl_tax"])
    assert round(average_active, 4) == truth[month]["average_active_subscribers"]
    assert round(float(row["revenue_excl_tax"]) / average_active, 4) == truth[month]["arpu"]
    assert (row["active_at_start"], row["lost_voluntary"], row["lost_involuntary"]) == (
        truth[month]["active_at_start"],
        truth[month]["lost_voluntary"],
        truth[month]["lost_involuntary"],
    )


def test_dim_customers_equals_the_truth_per_customer(built: str, customer_truth) -> None:
    """Churn time and type, and 3-month ARPU (the as-of month, the data's last day's, and the two
    before: September's history invoices, October, November's first nine days) of every customer."""
    with psycopg.connect(built, row_factory=dict_row) as conn:
        rows = {
            row["customer_id"]: row
            for row in conn.execute(
                "select customer_id, churned_at, churn_type, arpu_3m, as_of_date from marts.dim_customers"
            )
        }
    assert rows.keys() == customer_truth.keys()
    assert {row["as_of_date"] for row in rows.values()} == {END - timedelta(days=1)}
    churn_mismatches, arpu_mismatches = [], []
    for customer_id, expected in customer_truth.items():
        row = rows[customer_id]
        churned_at = row["churned_at"].isoformat() if row["churned_at"] else ""
        if (churned_at, row["churn_type"] or "") != (expected["churned_at"], expected["churn_type"]):
            churn_mismatches.append((customer_id, churned_at, row["churn_type"], expected))
        want = Decimal(expected["arpu_3m"]) if expected["arpu_3m"] else None
        got = row["arpu_3m"]
        # both sides round the same exact ratio to 4 places; PostgreSQL's numeric division is exact to
        # 16+ significant digits, so they can differ in the last place only at a rounding tie
        if (want is None) != (got is None) or (want is not None and abs(got - want) > Decimal("0.0001")):
            arpu_mismatches.append((customer_id, got, want))
    assert not churn_mismatches, churn_mismatches[:5]
    assert not arpu_mismatches, arpu_mismatches[:5]
    churned = sum(1 for c in customer_truth.values() if c["churned_at"])
    assert churned > 0 and sum(1 for c in customer_truth.values() if c["arpu_3m"]) > CUSTOMERS * 0.9


def test_every_mart_suite_passes_on_the_dirty_world_and_a_revenue_drift_fails_the_reconciliation(built: str) -> None:
    from telco_dw.quality import all_suites, failure_message, get_suite, run_suite

    for spec in (s for s in all_suites() if s.name.startswith("marts.")):
        outcome = run_suite(built, spec, "test_warehouse_truth/marts")
        assert outcome.passed, failure_message(outcome)
    drift = (
        "update marts.fct_billing_monthly set revenue_excl_tax = revenue_excl_tax + %s "
        "where customer_month_id = (select min(customer_month_id) from marts.fct_billing_monthly)"
    )
    with psycopg.connect(built, autocommit=True) as conn:  # one customer-month billed a fen more than raw says
        conn.execute(drift, (0.01,))
        try:
            outcome = run_suite(built, get_suite("marts.fct_billing_monthly"), "test_warehouse_truth/drift")
        finally:
            conn.execute(drift, (-0.01,))
    assert [r.expectation for r in outcome.critical_failures] == [
        "unexpected_rows_expectation(billed revenue of each month equals the raw invoices' total)"
    ]


# --- write-audit-publish: a fault that reaches the candidate (raw rows changed behind the landing
# checks, so dbt builds it) blocks publishing when critical and is published and recorded when a warning.


def _marts_fingerprint(url: str) -> dict[str, str]:
    """Every published mart's rows, hashed in a fixed order: equal fingerprints, equal marts."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute("select tablename from pg_tables where schemaname = 'marts' order by 1")]
        return {
            t: conn.execute(
                f"select md5(coalesce(string_agg(m::text, '|' order by m::text), '')) from marts.{t} m"
            ).fetchone()[0]
            for t in tables
        }


def _first_customer(conn: psycopg.Connection, table: str, where: str = "true") -> str:
    return conn.execute(f"select min(customer_id) from {table} where {where}").fetchone()[0]


def test_a_critical_fault_in_the_candidate_blocks_publishing_and_leaves_the_marts_unchanged(built: str) -> None:
    """A mobile number typed into a CRM city field reaches dim_customers (city is not personal, so it
    passes through, and no dbt test looks at it): the PII gate refuses the candidate."""
    before = _marts_fingerprint(built)
    assert before and "dim_customers" in before
    with psycopg.connect(built, autocommit=True) as conn:
        published = publish.latest(conn)
        customer = _first_customer(conn, "raw_crm.customers")
        cities = conn.execute(
            "update raw_crm.customers r set city = r.city || ' 138 0013 8000' from raw_crm.customers o "
            "where r.ctid = o.ctid and r.customer_id = %s returning r.ctid, o.city",
            (customer,),
        ).fetchall()
        assert cities
        try:
            with pytest.raises(publish.PublishRefused) as refused:
                rebuild(built, "test_warehouse_truth/critical")
        finally:
            with conn.cursor() as cur:
                cur.executemany("update raw_crm.customers set city = %s where ctid = %s", [(c, t) for t, c in cities])
    message = str(refused.value)
    assert "marts not published" in message and published is not None and published.run_id in message
    assert "pii.marts.dim_customers on marts_candidate.dim_customers" in message and "mobile" in message
    assert "13800138000" not in message and "138 0013 8000" not in message  # counts, never the value
    assert _marts_fingerprint(built) == before
    with psycopg.connect(built) as conn:
        assert conn.execute(
            "select status, reason like '%%pii.marts.dim_customers%%' from audit.publications where run_id = %s",
            ("test_warehouse_truth/critical",),
        ).fetchone() == ("refused", True)


def test_a_warning_is_published_and_recorded(built: str) -> None:
    """A CRM correction lands a negative fee for one customer's subscriptions (a new version of each,
    landed after everything else): the GX warning is recorded and the marts are published."""
    columns = (
        "subscription_id, customer_id, msisdn, plan_code, plan_name, monthly_fee, contract_months, status, "
        "activated_at, deactivated_at, churn_type, updated_at"
    )
    with psycopg.connect(built, autocommit=True) as conn:
        customer = _first_customer(conn, "raw_crm.subscriptions")
        conn.execute(
            f"insert into raw_crm.subscriptions ({columns}, _batch_id, _loaded_at, _source_file) "
            f"select distinct on (subscription_id) {columns.replace('monthly_fee', '-1')}, gen_random_uuid(), "
            "now(), 'test_warning.csv' from raw_crm.subscriptions where customer_id = %s "
            "order by subscription_id, updated_at desc, _loaded_at desc",
            (customer,),
        )
    done = rebuild(built, "test_warehouse_truth/warning")  # raises if refused
    assert done.status == "published" and done.tables["dim_customers"] > 0
    with psycopg.connect(built) as conn:
        assert conn.execute(
            "select monthly_fee from marts.dim_customers where customer_id = %s", (customer,)
        ).fetchone() == (-1,)
        warnings = conn.execute(
            "select suite, expectation from audit.dq_results "
            "where run_id = %s and severity = 'warning' and not success",
            ("test_warehouse_truth/warning",),
        ).fetchall()
    assert ("marts.dim_customers", "expect_column_values_to_be_between(column=monthly_fee, min_value=0)") in warnings

"""The dashboard's panels: each one aggregate query on the marts (GROUP BY in the warehouse, so the page
holds a few dozen numbers whatever the customer count), the chart drawn from it, and the metric
definition it uses, worded as in DOMAIN.md and the semantic layer (``_marts__metrics.yml``).

Ratios are re-derived from summed counts at the grain shown, never averaged (the marts' rule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telco_dw.report import svg
from telco_dw.report.svg import Series

if TYPE_CHECKING:
    import psycopg

NPS_DEFINITION = (
    'NPS: "how likely to recommend" 0-10; promoters 9-10, passives 7-8, detractors 0-6 (6 is a detractor). '
    "NPS = % promoters - % detractors, passives in the denominator, -100 to +100."
)
CSAT_DEFINITION = (
    "CSAT (top-2-box): 100 x responses in the top two boxes (9-10 of 10, 4-5 of 5) / CSAT responses, 0-100."
)
BANDS = ("excellent", "good", "fair", "poor", "very poor", "no network data")
TENURE_SEGMENTS = ("< 3 months", "3-11 months", "12-35 months", "36+ months")
LIFECYCLE_STAGES = ("acquisition", "growth", "maturity", "decline", "churned")
RFM_SEGMENTS = ("champions", "loyal", "promising", "needs attention", "at risk", "lost")


@dataclass(frozen=True)
class Panel:
    """One chart of the dashboard with what it shows, how it is defined and where it reads."""

    key: str
    title: str
    definition: str
    sources: tuple[str, ...]
    chart: str
    series: Sequence[Series]


def _ordered(rows: list[tuple[Any, ...]], order: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows keyed by their first column, in ``order`` first and any other key after, alphabetically."""
    rank = {key: i for i, key in enumerate(order)}
    return sorted(rows, key=lambda row: (rank.get(row[0], len(order)), str(row[0])))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _n(count: Any, what: str) -> str:
    return f"n = {int(count):,} {what}"


TREND = """
select
    to_char(month_start_date, 'YYYY-MM') || case when bool_and(is_complete_month) then '' else ' (part)' end as month,
    grouping(region) = 1 as is_total,
    coalesce(region, '(no region)') as region,
    sum(nps_response_count) as nps_responses,
    100.0 * (sum(nps_promoter_count) - sum(nps_detractor_count)) / nullif(sum(nps_response_count), 0) as nps,
    sum(csat_response_count) as csat_responses,
    100.0 * sum(csat_top_2_box_count) / nullif(sum(csat_response_count), 0) as csat
from marts.fct_satisfaction_monthly
group by grouping sets ((month_start_date, region), (month_start_date))
having sum(nps_response_count) + sum(csat_response_count) > 0
order by month_start_date, is_total, region
"""


def satisfaction_trend(conn: psycopg.Connection) -> list[Panel]:
    """NPS and CSAT by month, one line per region and one for all regions."""
    rows = conn.execute(TREND).fetchall()
    months = list(dict.fromkeys(row[0] for row in rows))
    regions = sorted({row[2] for row in rows if not row[1]})
    cells = {(row[0], "all regions" if row[1] else row[2]): row for row in rows}
    panels = []
    for key, title, definition, count, value in (
        ("nps-trend", "NPS by month and region", NPS_DEFINITION, 3, 4),
        ("csat-trend", "CSAT by month and region", CSAT_DEFINITION, 5, 6),
    ):
        series = []
        for name in (*regions, "all regions"):
            picked = [cells.get((month, name)) for month in months]
            series.append(
                Series(
                    name,
                    [_float(row[value]) if row else None for row in picked],
                    [_n(row[count], "responses") if row else "" for row in picked],
                )
            )
        floor = -100.0 if key == "nps-trend" else 0.0
        panels.append(
            Panel(
                key,
                title,
                f"{definition} Responses count in their month of submission; region is the customer's province. "
                "Months with survey responses; (part): the month the data ends in.",
                ("marts.fct_satisfaction_monthly",),
                svg.line_chart(title, months, series, floor=floor, ceiling=100.0),
                series,
            )
        )
    return panels


NPS_BY_BAND = """
with

customer_bands as (
    select
        customer_id,
        case
            when network_experience_score is null then 'no network data'
            when network_experience_score >= 87.5 then 'excellent'
            when network_experience_score >= 62.5 then 'good'
            when network_experience_score >= 37.5 then 'fair'
            when network_experience_score >= 12.5 then 'poor'
            else 'very poor'
        end as band
    from marts.dim_customers
)

select
    customer_bands.band,
    count(*) as nps_responses,
    100.0 * (count(*) filter (where responses.is_nps_promoter) - count(*) filter (where responses.is_nps_detractor))
    / count(*) as nps
from marts.fct_survey_responses as responses
inner join customer_bands on responses.customer_id = customer_bands.customer_id
where responses.survey_type = 'nps'
group by customer_bands.band
"""


def nps_by_network_experience(conn: psycopg.Connection) -> list[Panel]:
    """NPS of the responses of customers in each network experience band: what poor coverage costs."""
    rows = _ordered(conn.execute(NPS_BY_BAND).fetchall(), BANDS)
    series = [Series("NPS", [_float(row[2]) for row in rows], [_n(row[1], "responses") for row in rows])]
    title = "NPS by network experience band"
    return [
        Panel(
            "nps-by-network",
            title,
            f"{NPS_DEFINITION} Band: the customer's network experience score (dim_customers: the mean over "
            "the last 90 days of each day's score from the DOMAIN.md quality bin of its mean RSRP: excellent "
            "> -85 dBm 100, good 75, fair 50, poor 25, very poor < -115 dBm 0), put in the nearest bin. "
            "Poor coverage is RSRP <= -105 dBm.",
            ("marts.fct_survey_responses", "marts.dim_customers"),
            svg.bar_chart(title, [row[0] for row in rows], series, floor=-100.0, ceiling=100.0),
            series,
        )
    ]


COMPLAINTS_BY_CHANNEL = """
select
    channel,
    count(*) as complaints,
    100.0 * count(*) filter (where met_24h_response) / count(*) as sla_24h_response,
    100.0 * count(*) filter (where met_48h_resolution) / count(*) as sla_48h_resolution,
    100.0 * count(*) filter (where is_first_contact_resolution) / count(*) as fcr
from marts.fct_complaints
group by channel
order by channel
"""


def complaints_by_channel(conn: psycopg.Connection) -> list[Panel]:
    """Complaint SLA compliance (24 h response, 48 h resolution) and FCR per channel."""
    rows = conn.execute(COMPLAINTS_BY_CHANNEL).fetchall()
    notes = [_n(row[1], "complaints") for row in rows]
    series = [
        Series("first response within 24 h", [_float(row[2]) for row in rows], notes),
        Series("resolved within 48 h", [_float(row[3]) for row in rows], notes),
        Series("first-contact resolution", [_float(row[4]) for row in rows], notes),
    ]
    title = "Complaint SLA and FCR by channel"
    return [
        Panel(
            "complaints-by-channel",
            title,
            "Complaint SLA on a 24/7 clock: first response within 24 h and resolution within 48 h of creation "
            "(exactly 24 h / 48 h meets it; a complaint not answered or resolved in the data has not met it), "
            "as a share of the complaints opened. FCR: complaints resolved at the first contact with no repeat "
            "complaint of the same customer within the repeat window (dbt var fcr_repeat_window_days) / all "
            "complaints (fixed denominator).",
            ("marts.fct_complaints",),
            svg.bar_chart(title, [row[0] for row in rows], series, unit="%", floor=0.0, ceiling=100.0),
            series,
        )
    ]


CHURN_BY_TENURE = """
select
    tenure_segment,
    sum(active_at_month_start_count) as active_at_month_start,
    100.0 * sum(churned_count) / nullif(sum(active_at_month_start_count), 0) as churn_rate,
    100.0 * sum(voluntary_churned_count) / nullif(sum(active_at_month_start_count), 0) as voluntary,
    100.0 * sum(involuntary_churned_count) / nullif(sum(active_at_month_start_count), 0) as involuntary
from marts.fct_satisfaction_monthly
group by tenure_segment
"""

LIFECYCLE = """
select lifecycle_stage, count(*) as customers
from marts.dim_customers
group by lifecycle_stage
"""


def churn_by_segment(conn: psycopg.Connection) -> list[Panel]:
    """Monthly churn rate per tenure segment, and customers per lifecycle stage."""
    rows = _ordered(conn.execute(CHURN_BY_TENURE).fetchall(), TENURE_SEGMENTS)
    notes = [_n(row[1], "active at month starts") for row in rows]
    churn = [
        Series("churn rate", [_float(row[2]) for row in rows], notes),
        Series("voluntary", [_float(row[3]) for row in rows], notes),
        Series("involuntary", [_float(row[4]) for row in rows], notes),
    ]
    stages = _ordered(conn.execute(LIFECYCLE).fetchall(), LIFECYCLE_STAGES)
    customers = [Series("customers", [float(row[1]) for row in stages])]
    churn_title, stage_title = "Churn rate by tenure segment", "Customers by lifecycle stage"
    return [
        Panel(
            "churn-by-tenure",
            churn_title,
            "Churn rate (monthly): customers lost in the month / customers active at 00:00 UTC of the month's "
            "first day, split voluntary (customer decision) and involuntary (non-payment). Over several months "
            "the counts are summed before dividing (the average month's rate). Tenure segment: tenure at the "
            "month's start.",
            ("marts.fct_satisfaction_monthly",),
            svg.bar_chart(churn_title, [str(row[0]) for row in rows], churn, unit="%", floor=0.0),
            churn,
        ),
        Panel(
            "lifecycle-stages",
            stage_title,
            "Lifecycle stage on the data's last day, the first that applies: churned (every subscription "
            "churned); acquisition (tenure < 3 months); decline (falling spend, or a churn-risk signal: the "
            "latest NPS answer a detractor, a failed payment, RFM segment at risk); growth (tenure < 12 "
            "months); maturity.",
            ("marts.dim_customers",),
            svg.bar_chart(stage_title, [str(row[0]) for row in stages], customers),
            customers,
        ),
    ]


RFM = """
select
    coalesce(rfm_segment, '(not scored)') as rfm_segment,
    count(*) as customers,
    count(last_nps_category) as nps_answers,
    100.0 * (count(*) filter (where last_nps_category = 'promoter') - count(*) filter (
        where last_nps_category = 'detractor'
    )) / nullif(count(last_nps_category), 0) as nps,
    count(last_csat_category) as csat_answers,
    100.0 * count(*) filter (where last_csat_category = 'satisfied') / nullif(count(last_csat_category), 0) as csat
from marts.dim_customers
group by 1
"""

RFM_DEFINITION = (
    "RFM: recency (days since the last payment, inverted), frequency (active days) and monetary (revenue), "
    "each scored in quintiles 1-5; segments champions (555), lost (111), at risk (recency 1, not 111), loyal "
    "(recency and frequency 4-5), promising (recency 4-5), needs attention (the rest)."
)


def rfm_segments(conn: psycopg.Connection) -> list[Panel]:
    """Customers per RFM segment, and the segments' NPS and CSAT from their customers' latest answers."""
    rows = _ordered(conn.execute(RFM).fetchall(), RFM_SEGMENTS)
    segments = [str(row[0]) for row in rows]
    sizes = [Series("customers", [float(row[1]) for row in rows])]
    satisfaction = [
        Series("NPS", [_float(row[3]) for row in rows], [_n(row[2], "latest NPS answers") for row in rows]),
        Series("CSAT", [_float(row[5]) for row in rows], [_n(row[4], "latest CSAT answers") for row in rows]),
    ]
    size_title, satisfaction_title = "Customers by RFM segment", "Satisfaction by RFM segment"
    return [
        Panel(
            "rfm-sizes",
            size_title,
            RFM_DEFINITION,
            ("marts.dim_customers",),
            svg.bar_chart(size_title, segments, sizes),
            sizes,
        ),
        Panel(
            "rfm-satisfaction",
            satisfaction_title,
            f"{NPS_DEFINITION} {CSAT_DEFINITION} Over each segment's customers' latest NPS and CSAT answers.",
            ("marts.dim_customers",),
            svg.bar_chart(satisfaction_title, segments, satisfaction, floor=-100.0, ceiling=100.0),
            satisfaction,
        ),
    ]


PANELS: tuple[Callable[[psycopg.Connection], list[Panel]], ...] = (
    satisfaction_trend,
    nps_by_network_experience,
    complaints_by_channel,
    churn_by_segment,
    rfm_segments,
)
"""Every panel builder, in the dashboard's order."""

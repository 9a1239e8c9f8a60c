"""Ground truth the generator computes from its own clean events, month by month.

Definitions (the project's domain notes): NPS = %promoters (9-10) - %detractors (0-6); CSAT =
top-2-box share (9-10 of 10) x 100; CES = mean 1-7 score; churn rate = customers lost in the month /
customers active at the start of the month (or of the simulated window, when it starts later);
SLA rates = share of the month's tickets with a first response within 24 h / a resolution within
48 h of creation, both emitted within the window; FCR = tickets resolved at the first contact /
all tickets; ARPU = the month's invoiced service revenue (tax excluded) / the average number of
active subscribers over the month's simulated days.

Per customer (``truth_customers.csv``): the churn (time and type) and ARPU over the last three months of
the data (the month of the last simulated day and the two before it, invoices issued before the
window included) = the customer's invoiced revenue for those months / the customer's subscriber-months
in them (days in service at 00:00 UTC / the month's days up to the last simulated day); before the
window every customer who had signed up was in service (nobody churns before it).
"""

from __future__ import annotations

import csv
import json
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ARPU_MONTHS = 3
CUSTOMER_COLUMNS = ("customer_id", "churned_at", "churn_type", "arpu_3m_revenue_excl_tax", "arpu_3m")


def month_key(day: date | datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _previous_month_start(month_start: date) -> date:
    return _month_start(month_start - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What :class:`CustomerTruth` needs of one customer at the end of the simulation (times as epoch
    seconds, as the customer store keeps them; 0 = none)."""

    customer_id: str
    index: int  # row in the customer store (n - 1)
    signed_up_epoch: int
    deactivated_epoch: int
    churn_type: str | None


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _ordinal(epoch_seconds: int) -> int:
    """The UTC day of an epoch second, as a date ordinal."""
    return _EPOCH_ORDINAL + epoch_seconds // 86400


class CustomerTruth:
    """Per-customer ground truth: churn, and ARPU over the last :data:`ARPU_MONTHS` months of the data.

    Revenue is kept as one array of cents per month of the ARPU window (8 bytes a customer a month);
    days in service are computed at the end from sign-up and deactivation, the way the day loop counts
    them (in service at 00:00 UTC of the day). The ratio is computed in integers, exactly, and rounded
    half up to 4 places (a million customers in a few seconds).
    """

    def __init__(self, last_day: date, months: int = ARPU_MONTHS) -> None:
        self.last_day = last_day
        starts = [_month_start(last_day)]
        while len(starts) < months:
            starts.append(_previous_month_start(starts[-1]))
        self.month_starts = starts
        self.revenue: dict[str, array[int]] = {month_key(m): array("q") for m in starts}

    def add_revenue(self, billing_month: date, index: int, amount: Decimal) -> None:
        """An invoice of the customer in row ``index`` for ``billing_month`` (counted by calendar month)."""
        column = self.revenue.get(month_key(billing_month))
        if column is None:
            return
        if len(column) <= index:
            column.extend([0] * (index + 1 - len(column)))
        column[index] += int(amount * 100)

    def rows(self, customers: Iterable[CustomerFacts]) -> Iterator[tuple[str, ...]]:
        last_ordinal = self.last_day.toordinal()
        months = []  # (first day, last observed day, observed days) as ordinals
        for start in self.month_starts:
            month_end = _month_start(start + timedelta(days=31)) - timedelta(days=1)
            observed_end = min(month_end, self.last_day)
            months.append((start.toordinal(), observed_end.toordinal(), (observed_end - start).days + 1))
        common = 1
        for _, _, observed in months:
            common *= observed
        weights = [(first, last, common // observed) for first, last, observed in months]
        columns = list(self.revenue.values())
        for facts in customers:
            i = facts.index
            cents = sum(col[i] for col in columns if len(col) > i)
            first_day = _ordinal(facts.signed_up_epoch) + 1  # in service at 00:00 from the next day
            last_day = _ordinal(facts.deactivated_epoch) if facts.deactivated_epoch else last_ordinal
            # subscriber-months x common: sum of days in service x (common / observed days)
            scaled_months = sum(
                max(0, min(last, last_day) - max(first, first_day) + 1) * weight for first, last, weight in weights
            )
            arpu = ""
            if scaled_months:
                numerator, sign = abs(cents) * common * 100, "-" if cents < 0 else ""
                rounded = (2 * numerator + scaled_months) // (2 * scaled_months)  # half up, 4 places
                arpu = f"{sign}{rounded // 10000}.{rounded % 10000:04d}"
            churned_at = (
                datetime.fromtimestamp(facts.deactivated_epoch, UTC).isoformat() if facts.deactivated_epoch else ""
            )
            sign = "-" if cents < 0 else ""
            yield (
                facts.customer_id,
                churned_at,
                facts.churn_type or "",
                f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}",
                arpu,
            )

    def write(self, path: Path, customers: Iterable[CustomerFacts]) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(CUSTOMER_COLUMNS)
            writer.writerows(self.rows(customers))


@dataclass
class MonthTruth:
    nps_promoters: int = 0
    nps_detractors: int = 0
    nps_responses: int = 0
    csat_top2: int = 0
    csat_responses: int = 0
    ces_sum: int = 0
    ces_responses: int = 0
    active_at_start: int = 0
    lost_voluntary: int = 0
    lost_involuntary: int = 0
    tickets: int = 0
    met_24h_response: int = 0
    met_48h_resolution: int = 0
    first_contact_resolutions: int = 0
    revenue_excl_tax: Decimal = Decimal("0")
    active_subscriber_days: int = 0
    days: int = 0

    def metrics(self) -> dict[str, float | int | str | None]:
        def ratio(num: float, den: float, scale: float = 1.0, digits: int = 6) -> float | None:
            return round(scale * num / den, digits) if den else None

        lost = self.lost_voluntary + self.lost_involuntary
        avg_active = self.active_subscriber_days / self.days if self.days else 0
        return {
            "nps": ratio(self.nps_promoters - self.nps_detractors, self.nps_responses, 100, 4),
            "csat": ratio(self.csat_top2, self.csat_responses, 100, 4),
            "ces": ratio(self.ces_sum, self.ces_responses, 1, 4),
            "churn_rate": ratio(lost, self.active_at_start),
            "voluntary_churn_rate": ratio(self.lost_voluntary, self.active_at_start),
            "involuntary_churn_rate": ratio(self.lost_involuntary, self.active_at_start),
            "sla_24h_response_rate": ratio(self.met_24h_response, self.tickets),
            "sla_48h_resolution_rate": ratio(self.met_48h_resolution, self.tickets),
            "fcr_rate": ratio(self.first_contact_resolutions, self.tickets),
            "arpu": round(float(self.revenue_excl_tax) / avg_active, 4) if avg_active else None,
            "revenue_excl_tax": str(self.revenue_excl_tax),
            "average_active_subscribers": round(avg_active, 4),
            "nps_responses": self.nps_responses,
            "csat_responses": self.csat_responses,
            "ces_responses": self.ces_responses,
            "active_at_start": self.active_at_start,
            "lost_voluntary": self.lost_voluntary,
            "lost_involuntary": self.lost_involuntary,
            "tickets": self.tickets,
            "simulated_days": self.days,
        }


@dataclass
class Truth:
    months: dict[str, MonthTruth] = field(default_factory=lambda: defaultdict(MonthTruth))

    def write(self, path: Path) -> None:
        body = {
            "definitions": (__doc__ or "").split("\n\n", 1)[1].strip(),
            "months": {key: m.metrics() for key, m in sorted(self.months.items())},
        }
        path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

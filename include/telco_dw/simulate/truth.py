"""Ground truth the generator computes from its own clean events, month by month.

Definitions (the project's domain notes): NPS = %promoters (9-10) - %detractors (0-6); CSAT =
top-2-box share (9-10 of 10) x 100; CES = mean 1-7 score; churn rate = customers lost in the month /
customers active at the start of the month (or of the simulated window, when it starts later);
SLA rates = share of the month's tickets with a first response within 24 h / a resolution within
48 h of creation, both emitted within the window; FCR = tickets resolved at the first contact /
all tickets; ARPU = the month's invoiced service revenue (tax excluded) / the average number of
active subscribers over the month's simulated days.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path


def month_key(day: date | datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


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

"""The simulated telco: customers, subscriptions, complaints, bills, the network and surveys.

Deterministic from (customers, days, start, seed, dirty settings): the same arguments write
byte-identical files. The world advances one day at a time and writes each day's files before the
next, so memory holds the customer state only (not the history).

Cause and effect, so the marts have something true to find:
- each customer lives in a cell; poor coverage (mean RSRP <= -105 dBm) lowers their satisfaction and
  raises their complaint rate;
- complaints answered late (> 24 h) or resolved late (> 48 h) lower CSAT, CES and satisfaction;
- low satisfaction, a price raise and failed payments raise voluntary churn; a payment still failed
  ten days after its due date ends in involuntary churn;
- satisfied customers upgrade their plan now and then, unhappy ones downgrade.

The outbox layout and record fields are documented in ``docs/sources.md``.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from telco_dw.simulate import identities as ids
from telco_dw.simulate.network import write_network_day
from telco_dw.simulate.outbox import DIRTY_KINDS, Dirt, Manifest
from telco_dw.simulate.population import CHURN_TYPES, OUTCOMES, Customer, Customers, Payment, PaymentQueue, cents
from telco_dw.simulate.records import DayFiles
from telco_dw.simulate.truth import CustomerFacts, CustomerTruth, Truth, month_key

log = logging.getLogger(__name__)

PLANS = (  # code, name, monthly fee (CNY, tax excluded), contract months, weight
    ("P19", "畅享19元套餐", Decimal("19.00"), 0, 2),
    ("P59", "畅享59元套餐", Decimal("59.00"), 12, 4),
    ("P99", "5G畅享99元套餐", Decimal("99.00"), 24, 3),
    ("P199", "5G尊享199元套餐", Decimal("199.00"), 24, 1),
)
PRICE_RAISE = ("P59", Decimal("69.00"))  # plan whose fee rises mid-window, and the new fee
TAX_RATE = Decimal("0.06")
CENT = Decimal("0.01")
TICKET_CHANNELS = ("hotline", "app", "store", "web")
TICKET_CATEGORIES = ("network", "billing", "service", "product")
PAY_METHODS = ("alipay", "wechat", "bank_card", "cash")


@dataclass(frozen=True)
class SimConfig:
    """Arguments of a simulation; together they fully determine its output."""

    customers: int = 200
    days: int = 7
    start: date = date(2026, 10, 1)
    seed: int = 42
    dirty_rate: float = 0.002
    dirty_kinds: tuple[str, ...] = DIRTY_KINDS

    def __post_init__(self) -> None:
        if self.customers < 1 or self.days < 1:
            raise ValueError("customers and days must be at least 1")

    @property
    def end(self) -> date:
        """First day after the window."""
        return self.start + timedelta(days=self.days)


def subscription(cust: Customer) -> dict[str, Any]:
    """A subscription's current version, as the CRM holds it."""
    plan = PLANS[cust.plan]
    return {
        "subscription_id": f"S{cust.n:07d}",
        "customer_id": cust.customer_id,
        "msisdn": cust.mobile,
        "plan_code": plan[0],
        "plan_name": plan[1],
        "monthly_fee": cust.fee,
        "contract_months": plan[3],
        "status": "active" if cust.active else "churned",
        "activated_at": cust.signed_up_at,
        "deactivated_at": cust.deactivated_at,
        "churn_type": cust.churn_type,
        "updated_at": cust.updated_at or cust.signed_up_at,
    }


def _ts(day: date, seconds: float) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=int(seconds))


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class World:
    """State of the simulated operator; :meth:`run` advances it day by day and writes the outbox."""

    def __init__(self, config: SimConfig, out: Path) -> None:
        self.cfg = config
        self.out = out
        self.rng = random.Random(f"{config.seed}/world")
        self.truth = Truth()
        self.customer_truth = CustomerTruth(config.end - timedelta(days=1))
        self.manifest = Manifest(
            arguments={
                "customers": config.customers,
                "days": config.days,
                "start": config.start.isoformat(),
                "seed": config.seed,
                "dirty_rate": config.dirty_rate,
                "dirty_kinds": list(config.dirty_kinds),
            }
        )
        self.dirt = Dirt(config.seed, config.dirty_rate, config.dirty_kinds)
        n_cells = max(20, config.customers // 100)
        cell_rng = np.random.default_rng([config.seed, 7])
        self.cell_rsrp = np.round(cell_rng.normal(-94.0, 8.0, n_cells), 1)
        self.cell_tech = np.where(cell_rng.random(n_cells) < 0.4, "5G", "4G")
        self.cell_region = [ids.PROVINCES[i % len(ids.PROVINCES)][0] for i in range(n_cells)]
        self.poor_cell: list[bool] = (self.cell_rsrp <= -105).tolist()
        self.customers = Customers()
        self.payments = PaymentQueue()
        self.scheduled: dict[date, list[tuple[Callable[..., None], tuple[Any, ...]]]] = defaultdict(list)
        self.ticket_seq = 0
        self.response_seq = 0
        self.today = config.start
        self.window_months = {month_key(config.start + timedelta(days=d)) for d in range(config.days)}
        self.files: DayFiles

    # --- set-up ------------------------------------------------------------------------------

    def _new_customer(self, files: DayFiles, signed: datetime, day: date, opening: bool) -> Customer:
        n = len(self.customers) + 1
        rng = random.Random(f"{self.cfg.seed}/customer/{n}")
        gender = rng.choice("MF")
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 56))
        province, city = rng.choice(ids.PROVINCES)
        plan = rng.choices(range(len(PLANS)), weights=[p[4] for p in PLANS])[0]
        cell = rng.randrange(len(self.cell_rsrp))
        msisdn = ids.mobile(rng)
        cust = self.customers.add(
            msisdn=int(msisdn),
            imei=int(ids.imei(rng)),
            cell=cell,
            plan=plan,
            fee=PLANS[plan][2],
            satisfaction=rng.gauss(8.1, 1.1) - (1.6 if self.poor_cell[cell] else 0.0),
            signed=signed,
        )
        record = {
            "customer_id": cust.customer_id,
            "full_name": ids.chinese_name(rng, gender),
            "gender": gender,
            "birth_date": birth,
            "id_card_no": ids.id_card(rng, birth, gender),
            "mobile": msisdn,
            "email": ids.email(rng),
            "province": province,
            "city": city,
            "address": ids.address(rng, province, city),
            "created_at": signed,
            "updated_at": signed,
        }
        files.add("crm", "customers", record)
        if opening:
            files.add_export(record)
        files.add("crm", "subscriptions", subscription(cust))
        files.add(
            "billing",
            "accounts",
            {
                "account_id": f"A{n:07d}",
                "customer_id": cust.customer_id,
                "pay_method": rng.choice(PAY_METHODS),
                "bank_card_no": ids.bank_card(rng),
                "opened_at": signed,
                "updated_at": signed,
            },
        )
        return cust

    def _opening(self, files: DayFiles) -> None:
        """Day 0: the customers already there, with two months of settled bills as history."""
        day0 = self.cfg.start
        for _ in range(self.cfg.customers):
            signed = _ts(day0, 0) - timedelta(days=self.rng.randrange(1, 365 * 6), seconds=self.rng.randrange(86400))
            cust = self._new_customer(files, signed, day0, opening=True)
            for back in (2, 1):
                month = _month_start(day0, back)
                if _ts(month, 0) >= signed:
                    self._invoice(files, cust, month, _ts(month, 7200), history=True)
            month = _month_start(day0, 0)
            if day0.day != 1:  # this month's bill was issued before the window opened
                self._invoice(files, cust, month, max(_ts(month, 7200), signed), history=True)

    # --- billing -----------------------------------------------------------------------------

    def _invoice(self, files: DayFiles, cust: Customer, month: date, issued: datetime, history: bool = False) -> None:
        rng = random.Random(f"{self.cfg.seed}/invoice/{cust.n}/{month}")
        invoice_id = f"I{cust.n:07d}{_yyyymm(month)}"
        lines = [("plan_fee", cust.fee)]
        if rng.random() < 0.3:
            lines.append(("data_overage", _money(rng.uniform(5, 50))))
        if rng.random() < 0.1:
            lines.append(("vas", Decimal("10.00")))
        if rng.random() < 0.1:
            lines.append(("discount", Decimal("-5.00")))
        amount = sum((a for _, a in lines), Decimal("0"))
        for k, (kind, value) in enumerate(lines, start=1):
            files.add(
                "billing",
                "invoice_lines",
                {
                    "line_id": f"{invoice_id}-{k}",
                    "invoice_id": invoice_id,
                    "line_type": kind,
                    "amount_excl_tax": value,
                    "updated_at": issued,
                },
            )
        due = issued.date() + timedelta(days=15)
        files.add(
            "billing",
            "invoices",
            {
                "invoice_id": invoice_id,
                "account_id": f"A{cust.n:07d}",
                "billing_month": month,
                "amount_excl_tax": amount,
                "tax_amount": _money(amount * TAX_RATE),
                "issued_at": issued,
                "due_date": due,
                "updated_at": issued,
            },
        )
        total = amount + _money(amount * TAX_RATE)
        if month_key(month) in self._window_months():
            self.truth.months[month_key(month)].revenue_excl_tax += amount
        self.customer_truth.add_revenue(month, cust.i, amount)
        if history:
            paid = issued + timedelta(days=3)
            settled = Payment(cust.n, _yyyymm(month), cents(total), OUTCOMES.index("settled"), due, 0)
            files.add("billing", "payments", settled.record("settled", paid, paid))
            return
        attempt = issued.date() + timedelta(days=rng.randrange(0, 6))
        p_fail = 0.02 + (0.04 if cust.satisfaction < 6 else 0.0)
        outcome = rng.choices(range(len(OUTCOMES)), weights=(1 - p_fail - 0.06, 0.06, p_fail))[0]
        payment = Payment(cust.n, _yyyymm(month), cents(total), outcome, due, rng.randrange(3600, 86000))
        self._pay_at(attempt, PAYMENT_MADE, payment)

    def _pay_at(self, day: date, stage: int, payment: Payment) -> None:
        """Like :meth:`_at` for the many payments, kept as columns until their day."""
        if day <= self.today:
            self._payment_step(self.files, self.today, stage, payment)
        elif day < self.cfg.end:
            self.payments.add(day, stage, payment)

    def _payment_step(self, files: DayFiles, day: date, stage: int, payment: Payment) -> None:
        outcome = OUTCOMES[payment.outcome]
        if stage == PAYMENT_MADE:
            files.add("billing", "payments", payment.record("pending", None, _ts(day, payment.secs)))
            settle_day = payment.due + timedelta(days=3) if outcome == "late" else day + timedelta(days=1)
            self._pay_at(settle_day, PAYMENT_SETTLED, payment)
            return
        when = _ts(day, payment.secs)
        if outcome == "failed":
            files.add("billing", "payments", payment.record("failed", None, when))
            cust = self.customers[payment.customer - 1]
            cust.failed_invoice = payment.month
            cust.satisfaction -= 0.3
            self._at(payment.due + timedelta(days=10), self._involuntary_churn, cust, payment.month)
        else:
            files.add("billing", "payments", payment.record(outcome, when, when))

    def _involuntary_churn(self, files: DayFiles, day: date, cust: Customer, month: int) -> None:
        if cust.active and cust.failed_invoice == month:
            self._churn(files, cust, _ts(day, 3600), "involuntary")

    # --- CRM events ----------------------------------------------------------------------------

    def _churn(self, files: DayFiles, cust: Customer, when: datetime, kind: str) -> None:
        if cust.updated_at is not None and when <= cust.updated_at:
            when = cust.updated_at + timedelta(seconds=1)  # the churn is the subscription's latest version
        cust.active = False
        cust.deactivated_at, cust.churn_type, cust.updated_at = when, kind, when
        files.add("crm", "subscriptions", subscription(cust))
        month = self.truth.months[month_key(when)]
        if kind == "voluntary":
            month.lost_voluntary += 1
        else:
            month.lost_involuntary += 1

    def _ticket(self, files: DayFiles, day: date, cust: Customer, poor: bool) -> None:
        rng = self.rng
        self.ticket_seq += 1
        created = _ts(day, rng.uniform(8 * 3600, 22 * 3600))
        response_hours = rng.expovariate(1 / 9.0)
        resolve_hours = response_hours + rng.expovariate(1 / 20.0)
        contacts = 1 if rng.random() < 0.72 else rng.randrange(2, 5)
        ticket = {
            "ticket_id": f"T{self.ticket_seq:08d}",
            "customer_id": cust.customer_id,
            "channel": rng.choice(TICKET_CHANNELS),
            "category": "network" if poor and rng.random() < 0.7 else rng.choice(TICKET_CATEGORIES),
            "created_at": created,
            "first_response_at": None,
            "resolved_at": None,
            "contact_count": 1,
            "status": "open",
            "updated_at": created,
        }
        files.add("crm", "tickets", dict(ticket))
        responded = created + timedelta(hours=response_hours)
        resolved = created + timedelta(hours=resolve_hours)
        window_end = _ts(self.cfg.end, 0)
        month = self.truth.months[month_key(created)]
        month.tickets += 1
        month.met_24h_response += int(response_hours <= 24 and responded < window_end)
        month.met_48h_resolution += int(resolve_hours <= 48 and resolved < window_end)
        month.first_contact_resolutions += int(contacts == 1 and resolved < window_end)
        slow = resolve_hours > 48 or response_hours > 24
        if slow:
            cust.satisfaction -= 0.8
        self._at(responded.date(), self._ticket_update, ticket, {"first_response_at": responded}, responded)
        final = {"resolved_at": resolved, "status": "resolved", "contact_count": contacts}
        self._at(resolved.date(), self._ticket_update, ticket, final, resolved, cust, slow)

    def _ticket_update(
        self,
        files: DayFiles,
        day: date,
        ticket: dict[str, Any],
        change: dict[str, Any],
        when: datetime,
        cust: Customer | None = None,
        slow: bool = False,
    ) -> None:
        ticket.update(change, updated_at=when)
        files.add("crm", "tickets", dict(ticket))
        if cust is not None:  # resolved: ask how it went
            rng = random.Random(f"{self.cfg.seed}/after/{ticket['ticket_id']}")
            if rng.random() < 0.6:
                score = max(1, min(10, round(rng.gauss(5.8 if slow else 8.7, 1.4))))
                self._at_response(
                    files,
                    when + timedelta(hours=rng.uniform(1, 30)),
                    cust,
                    "csat",
                    "complaint",
                    score,
                    10,
                    ticket["ticket_id"],
                )
            if rng.random() < 0.3:
                score = max(1, min(7, round(rng.gauss(3.8 if slow else 5.7, 1.0))))
                self._at_response(
                    files,
                    when + timedelta(hours=rng.uniform(1, 30)),
                    cust,
                    "ces",
                    "complaint",
                    score,
                    7,
                    ticket["ticket_id"],
                )

    def _at_response(self, files: DayFiles, when: datetime, cust: Customer, *args: Any) -> None:
        self._at(when.date(), self._response_on, when, cust, *args)

    def _response_on(self, files: DayFiles, day: date, when: datetime, cust: Customer, *args: Any) -> None:
        self._response(files, when, cust, *args)

    def _response(
        self,
        files: DayFiles,
        when: datetime,
        cust: Customer,
        kind: str,
        touchpoint: str,
        score: int,
        scale: int,
        ticket_id: str | None,
    ) -> None:
        self.response_seq += 1
        rng = random.Random(f"{self.cfg.seed}/comment/{self.response_seq}")
        files.add_response(
            {
                "response_id": f"R{self.response_seq:08d}",
                "submitted_at": when,
                "respondent": {"customer_id": cust.customer_id, "msisdn": cust.mobile},
                "survey": {"type": kind, "touchpoint": touchpoint, "ticket_id": ticket_id},
                "answers": [{"question": _QUESTION[kind], "score": score, "scale_max": scale}],
                "comment": ids.comment(rng, score / scale, cust.mobile),
            }
        )
        month = self.truth.months[month_key(when)]
        if kind == "nps":
            month.nps_responses += 1
            month.nps_promoters += int(score >= 9)
            month.nps_detractors += int(score <= 6)
        elif kind == "csat":
            month.csat_responses += 1
            month.csat_top2 += int(score >= 9)
        else:
            month.ces_responses += 1
            month.ces_sum += score

    # --- the day loop ---------------------------------------------------------------------------

    def _at(self, day: date, action: Callable[..., None], *args: Any) -> None:
        """Run ``action(files, day, *args)`` on ``day``: now if that is today, never if after the window."""
        if day <= self.today:
            action(self.files, self.today, *args)
        elif day < self.cfg.end:
            self.scheduled[day].append((action, args))

    def _window_months(self) -> set[str]:
        return self.window_months

    def run(self, progress: Callable[[int, int], None] | None = None) -> Manifest:
        cfg = self.cfg
        raise_day = cfg.start + timedelta(days=cfg.days // 2)
        for offset in range(cfg.days):
            day = cfg.start + timedelta(days=offset)
            files = DayFiles(self.out, day, self.manifest, self.dirt)
            self.today, self.files = day, files
            if offset == 0:
                self._opening(files)
            active = sum(self.customers.active)
            month = self.truth.months[month_key(day)]
            if day.day == 1 or offset == 0:
                month.active_at_start = active
            month.days += 1
            month.active_subscriber_days += active
            for stage in (PAYMENT_MADE, PAYMENT_SETTLED):
                for payment in self.payments.pop(day, stage):
                    self._payment_step(files, day, stage, payment)
            for action, args in self.scheduled.pop(day, []):
                action(files, day, *args)
            if day.day == 1:
                for i in range(len(self.customers)):
                    if self.customers.active[i]:
                        self._invoice(files, self.customers[i], day, _ts(day, 7200))
            if day == raise_day and cfg.days > 1:
                self._raise_prices(files, day)
            for _ in range(_poisson(self.rng, cfg.customers * 0.0008)):
                cust = self._new_customer(files, _ts(day, self.rng.uniform(9 * 3600, 21 * 3600)), day, opening=False)
                self._invoice(files, cust, day, cust.signed_up_at + timedelta(minutes=5))
            self._daily_behaviour(files, day)
            write_network_day(self, files, day, offset)
            files.write()
            if progress:
                progress(offset + 1, cfg.days)
        self.truth.write(self.out / "truth.json")
        self.customer_truth.write(self.out / "truth_customers.csv", self._customer_facts())
        self.manifest.write(self.out)
        return self.manifest

    def _customer_facts(self) -> Iterator[CustomerFacts]:
        store = self.customers
        for i in range(len(store)):  # the columns read directly: a million customers
            yield CustomerFacts(
                f"C{i + 1:07d}", i, store.signed_up_at[i], store.deactivated_at[i], CHURN_TYPES[store.churn_type[i]]
            )

    def _raise_prices(self, files: DayFiles, day: date) -> None:
        code, fee = PRICE_RAISE
        plan = [p[0] for p in PLANS].index(code)
        store = self.customers
        for i in range(len(store)):
            if store.active[i] and store.plan[i] == plan:
                cust = store[i]
                cust.fee = fee
                cust.price_raised = True
                cust.updated_at = _ts(day, 600)
                files.add("crm", "subscriptions", subscription(cust))

    def _daily_behaviour(self, files: DayFiles, day: date) -> None:
        rng, store = self.rng, self.customers
        active, satisfaction, cells, poor_cell = store.active, store.satisfaction, store.cell, self.poor_cell
        for i in range(len(store)):  # the hot loop: columns read directly, a view only when something happens
            if not active[i]:
                continue
            poor = poor_cell[cells[i]]
            if rng.random() < (0.006 if poor else 0.0015):
                self._ticket(files, day, store[i], poor)
            if rng.random() < 1 / 45:
                score = max(0, min(10, round(rng.gauss(satisfaction[i], 1.3))))
                cust = store[i]
                self._response(
                    files, _ts(day, rng.uniform(9 * 3600, 23 * 3600)), cust, "nps", "relationship", score, 10, None
                )
            if rng.random() < 0.0008:  # a plan change: up when happy, down when not
                cust = store[i]
                step = 1 if cust.satisfaction >= 7.5 else -1
                new_plan = min(len(PLANS) - 1, max(0, cust.plan + step))
                if new_plan != cust.plan:
                    cust.plan, cust.fee = new_plan, PLANS[new_plan][2]
                    cust.updated_at = _ts(day, rng.uniform(8 * 3600, 20 * 3600))
                    files.add("crm", "subscriptions", subscription(cust))
            hazard = 0.0004 + 0.0025 * max(0.0, 7.0 - satisfaction[i]) + (0.002 if store.price_raised[i] else 0.0)
            if rng.random() < hazard:
                self._churn(files, store[i], _ts(day, rng.uniform(8 * 3600, 20 * 3600)), "voluntary")


PAYMENT_MADE, PAYMENT_SETTLED = 0, 1
_QUESTION = {"nps": "likelihood_to_recommend", "csat": "satisfaction_with_resolution", "ces": "ease_of_resolution"}


def _yyyymm(month: date) -> int:
    return month.year * 100 + month.month


def _month_start(day: date, back: int) -> date:
    year, month = day.year, day.month - back
    while month <= 0:
        month += 12
        year -= 1
    return date(year, month, 1)


def _poisson(rng: random.Random, mean: float) -> int:
    count, limit, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > limit and count < 10 * mean + 10:
        count += 1
        product *= rng.random()
    return count


def generate(
    out: Path, config: SimConfig | None = None, progress: Callable[[int, int], None] | None = None
) -> Manifest:
    """Write the whole outbox for ``config`` into ``out`` (see ``docs/sources.md``).

    Guarantees: same config → byte-identical files; ``truth.json`` holds the monthly ground truth of
    the clean events and ``truth_customers.csv`` each customer's churn and 3-month ARPU;
    ``manifest.json`` lists every file and every injected dirty record by kind.
    Files of earlier runs in ``out`` with other names are left alone; use an empty folder.
    """
    config = config or SimConfig()
    out.mkdir(parents=True, exist_ok=True)
    manifest = World(config, out).run(progress)
    log.info(
        "simulated %d customers x %d days into %s (%d files)", config.customers, config.days, out, len(manifest.files)
    )
    return manifest

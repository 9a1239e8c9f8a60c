"""The simulation's per-customer state and its pending payments, kept as columns.

A million customers, and a month's bills for each of them, must fit in well under 1 GB. One
Python object per customer costs ~300 bytes and fragments the heap as its fields are replaced day
after day; one ``array.array`` per field costs ~60 bytes a customer and never fragments. Code reads
and writes a customer through a :class:`Customer` view (two slots: the store and the index), which
the simulation creates only when something happens to that customer.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

NONE = 0
"""Stored for a missing timestamp or month (no real value is 0)."""
CHURN_TYPES = (None, "voluntary", "involuntary")
OUTCOMES = ("settled", "late", "failed")


def _epoch(value: datetime | None) -> int:
    return NONE if value is None else int(value.timestamp())


def _instant(seconds: int) -> datetime | None:
    return None if seconds == NONE else datetime.fromtimestamp(seconds, UTC)


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def money(amount_cents: int) -> Decimal:
    """Cents as a two-place Decimal (``5900`` -> ``Decimal('59.00')``)."""
    return Decimal(amount_cents).scaleb(-2)


class _Field:
    """A view attribute backed by one column of the store, with optional encode/decode."""

    def __init__(self, decode: Callable[[Any], Any] | None = None, encode: Callable[[Any], Any] | None = None):
        self.decode, self.encode = decode, encode

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, view: Customer, owner: type | None = None) -> Any:
        value = getattr(view.store, self.name)[view.i]
        return self.decode(value) if self.decode else value

    def __set__(self, view: Customer, value: Any) -> None:
        getattr(view.store, self.name)[view.i] = self.encode(value) if self.encode else value


class Customers:
    """Column store of every customer's state; customer ``n`` (1-based) is row ``n - 1``."""

    def __init__(self) -> None:
        self.msisdn = array("q")
        self.imei = array("q")
        self.cell = array("l")
        self.plan = array("b")
        self.fee = array("l")  # cents
        self.satisfaction = array("d")
        self.signed_up_at = array("q")  # epoch seconds
        self.active = array("b")
        self.price_raised = array("b")
        self.failed_invoice = array("l")  # billing month YYYYMM of the failed invoice, or 0
        self.updated_at = array("q")
        self.deactivated_at = array("q")
        self.churn_type = array("b")  # index into CHURN_TYPES

    def __len__(self) -> int:
        return len(self.msisdn)

    def __getitem__(self, i: int) -> Customer:
        return Customer(self, i)

    def __iter__(self) -> Iterator[Customer]:
        return (Customer(self, i) for i in range(len(self)))

    def add(
        self, msisdn: int, imei: int, cell: int, plan: int, fee: Decimal, satisfaction: float, signed: datetime
    ) -> Customer:
        self.msisdn.append(msisdn)
        self.imei.append(imei)
        self.cell.append(cell)
        self.plan.append(plan)
        self.fee.append(cents(fee))
        self.satisfaction.append(satisfaction)
        self.signed_up_at.append(_epoch(signed))
        self.active.append(1)
        for column in (self.price_raised, self.failed_invoice, self.updated_at, self.deactivated_at, self.churn_type):
            column.append(NONE)
        return Customer(self, len(self) - 1)


class Customer:
    """One customer of a :class:`Customers` store, read and written through its columns."""

    __slots__ = ("i", "store")

    msisdn = _Field()
    imei = _Field()
    cell = _Field()
    plan = _Field()
    fee = _Field(money, cents)
    satisfaction = _Field()
    signed_up_at = _Field(_instant, _epoch)
    active = _Field(bool, int)
    price_raised = _Field(bool, int)
    failed_invoice = _Field()
    updated_at = _Field(_instant, _epoch)
    deactivated_at = _Field(_instant, _epoch)
    churn_type = _Field(CHURN_TYPES.__getitem__, CHURN_TYPES.index)

    def __init__(self, store: Customers, i: int) -> None:
        self.store, self.i = store, i

    @property
    def n(self) -> int:
        return self.i + 1

    @property
    def customer_id(self) -> str:
        return f"C{self.n:07d}"

    @property
    def mobile(self) -> str:
        return str(self.msisdn)


@dataclass(slots=True)
class Payment:
    """A payment of one invoice, as the billing system records it when it is made or settles."""

    customer: int  # n
    month: int  # billing month YYYYMM
    amount: int  # cents, tax included
    outcome: int  # index into OUTCOMES
    due: date
    secs: int  # second of the day it is made / settles

    @property
    def invoice_id(self) -> str:
        return f"I{self.customer:07d}{self.month}"

    def record(self, status: str, paid_at: datetime | None, updated_at: datetime) -> dict[str, Any]:
        return {
            "payment_id": f"Y{self.invoice_id[1:]}",
            "invoice_id": self.invoice_id,
            "amount": money(self.amount),
            "status": status,
            "paid_at": paid_at,
            "updated_at": updated_at,
        }


class PaymentQueue:
    """Payments waiting for a day, per day and stage, as columns (~30 bytes a payment)."""

    def __init__(self) -> None:
        self.days: dict[tuple[date, int], tuple[array[int], ...]] = {}

    def add(self, day: date, stage: int, payment: Payment) -> None:
        columns = self.days.get((day, stage))
        if columns is None:
            columns = self.days[(day, stage)] = tuple(array(code) for code in "lllbll")
        p = payment
        values = (p.customer, p.month, p.amount, p.outcome, p.due.toordinal(), p.secs)
        for column, value in zip(columns, values, strict=True):
            column.append(value)

    def pop(self, day: date, stage: int) -> Iterator[Payment]:
        """The day's payments of ``stage`` in the order they were added, removed from the queue."""
        columns = self.days.pop((day, stage), None)
        if columns is None:
            return
        for customer, month, amount, outcome, due, secs in zip(*columns, strict=True):
            yield Payment(customer, month, amount, outcome, date.fromordinal(due), secs)

"""The simulator's columnar state: a customer view reads back what was written, payments keep order,
and the CSV writer puts raw lines exactly where they were asked for."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from telco_dw.simulate.outbox import CsvFile
from telco_dw.simulate.population import Customers, Payment, PaymentQueue, money

SIGNED = datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC)


def test_a_customer_view_round_trips_every_kind_of_field():
    store = Customers()
    first = store.add(13812345678, 356938035643809, 7, 1, Decimal("59.00"), 8.25, SIGNED)
    second = store.add(13912345678, 356938035643817, 3, 2, Decimal("99.00"), 6.5, SIGNED)
    assert (first.n, first.customer_id, first.mobile) == (1, "C0000001", "13812345678")
    assert first.fee == Decimal("59.00") and str(first.fee) == "59.00"
    assert first.signed_up_at == SIGNED and first.updated_at is None and first.churn_type is None
    assert first.active is True and first.price_raised is False

    churned = datetime(2026, 10, 3, 12, 0, 1, tzinfo=UTC)
    first.fee, first.satisfaction, first.active = Decimal("69.00"), first.satisfaction - 0.3, False
    first.deactivated_at = first.updated_at = churned
    first.churn_type, first.failed_invoice = "involuntary", 202610
    again = store[0]
    assert (again.fee, again.satisfaction, again.active) == (Decimal("69.00"), 8.25 - 0.3, False)
    assert again.deactivated_at == churned and again.churn_type == "involuntary" and again.failed_invoice == 202610
    assert second.fee == Decimal("99.00") and second.active and second.churn_type is None  # untouched
    assert len(store) == 2 and [c.n for c in store] == [1, 2]


def test_money_keeps_two_places():
    assert [str(money(c)) for c in (5900, 12345, 7, 0)] == ["59.00", "123.45", "0.07", "0.00"]


def test_payments_come_back_per_day_and_stage_in_order_and_only_once():
    queue = PaymentQueue()
    due = date(2026, 10, 16)
    made = [Payment(n, 202610, 6254 + n, n % 3, due, 3600 + n) for n in range(1, 5)]
    for p in made:
        queue.add(date(2026, 10, 2), 0, p)
    queue.add(date(2026, 10, 2), 1, made[0])
    assert list(queue.pop(date(2026, 10, 2), 0)) == made
    assert list(queue.pop(date(2026, 10, 2), 0)) == []
    assert list(queue.pop(date(2026, 10, 2), 1)) == [made[0]]
    record = made[0].record("settled", None, SIGNED)
    assert record["invoice_id"] == "I0000001202610" and record["payment_id"] == "Y0000001202610"
    assert record["amount"] == Decimal("62.55")


def test_csv_raw_lines_land_after_their_row_even_the_last():
    sheet = CsvFile(["id", "name"])
    for i in range(4):
        sheet.add({"id": i, "name": f"n,{i}"})
    data = sheet.encode([(0, b"after-0\n"), (3, b"after-3\n"), (3, b"after-3b\n")]).decode()
    lines = data.splitlines()
    assert lines == ["id,name", '0,"n,0"', "after-0", '1,"n,1"', '2,"n,2"', '3,"n,3"', "after-3", "after-3b"]
    assert list(csv.reader(io.StringIO(CsvFile(["a"]).encode().decode()))) == [["a"]]

"""One simulated day's CRM, billing and survey files (network files: :mod:`telco_dw.simulate.network`).

Records are collected during the day and written at its end, with dirty records injected per file.
Dirty records are extra records (new identifiers, exact duplicates, broken lines), never edits of
clean ones, so the ground truth of the clean events stays what a correct pipeline must find.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from telco_dw.simulate.outbox import CsvFile, Dirt, Manifest, csv_line, dumps, late_delivery, write_bytes

CRM_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id", "full_name", "gender", "birth_date", "id_card_no", "mobile", "email",
        "province", "city", "address", "created_at", "updated_at",
    ),
    "subscriptions": (
        "subscription_id", "customer_id", "msisdn", "plan_code", "plan_name", "monthly_fee",
        "contract_months", "status", "activated_at", "deactivated_at", "churn_type", "updated_at",
    ),
    "tickets": (
        "ticket_id", "customer_id", "channel", "category", "created_at", "first_response_at",
        "resolved_at", "contact_count", "status", "updated_at",
    ),
}  # fmt: skip
BILLING_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "customer_id", "pay_method", "bank_card_no", "opened_at", "updated_at"),
    "invoices": (
        "invoice_id", "account_id", "billing_month", "amount_excl_tax", "tax_amount", "issued_at",
        "due_date", "updated_at",
    ),
    "invoice_lines": ("line_id", "invoice_id", "line_type", "amount_excl_tax", "updated_at"),
    "payments": ("payment_id", "invoice_id", "amount", "status", "paid_at", "updated_at"),
}  # fmt: skip
EXPORT_COLUMNS = (
    ("客户编号", "customer_id"), ("姓名", "full_name"), ("性别", "gender"), ("出生日期", "birth_date"),
    ("证件号码", "id_card_no"), ("手机号码", "mobile"), ("电子邮箱", "email"), ("省份", "province"),
    ("城市", "city"), ("详细地址", "address"), ("开户时间", "created_at"), ("会员等级", None),
)  # fmt: skip
ORPHAN_CUSTOMER = "C9999999"
SURVEY_VENDOR = "wenjuan"


CHUNK = 5_000
"""Records buffered per file before they are written: bounds memory on the opening day of a large world."""


class _Sink:
    """One output file of the day, appended to chunk by chunk."""

    def __init__(self, out: Path, rel: str, dirt: Dirt) -> None:
        self.out, self.rel = out, rel
        self.rng = dirt.rng(rel)
        self.rows = 0
        self.clean = 0
        self.started = False

    @property
    def path(self) -> Path:
        return self.out / self.rel

    def append(self, data: bytes, rows: int, clean: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab" if self.started else "wb") as handle:
            handle.write(data)
        self.started = True
        self.rows += rows
        self.clean += clean


class DayFiles:
    """Collects one day's records per file and writes them, with dirty records, in chunks."""

    def __init__(self, out: Path, day: date, manifest: Manifest, dirt: Dirt) -> None:
        self.out, self.day, self.manifest, self.dirt = out, day, manifest, dirt
        self.buffers: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.sinks: dict[tuple[str, str], _Sink] = {}
        self.responses: list[dict[str, Any]] = []
        self.exported: list[dict[str, Any]] = []
        self.export_sink: _Sink | None = None

    def add(self, source: str, table: str, record: dict[str, Any]) -> None:
        buffer = self.buffers[(source, table)]
        buffer.append(record)
        if len(buffer) >= CHUNK:
            self._flush(source, table)

    def add_response(self, response: dict[str, Any]) -> None:
        self.responses.append(response)

    def add_export(self, record: dict[str, Any]) -> None:
        """A customer of the legacy CRM's bulk export (the opening customers)."""
        self.exported.append(record)
        if len(self.exported) >= CHUNK:
            self._flush_export()

    # --- writing ---------------------------------------------------------------------------------

    def write(self) -> None:
        """Write what is still buffered and record every file of the day in the manifest."""
        for source, table in list(self.buffers):
            self._flush(source, table)
        for sink in self.sinks.values():
            self.manifest.record(self.out, sink.path, sink.rows, sink.clean)
        self._write_survey()
        if self.exported or self.export_sink is not None:
            self._flush_export()
            self._finish_export()

    def _sink(self, source: str, table: str) -> _Sink:
        if (source, table) not in self.sinks:
            dt = f"dt={self.day.isoformat()}"
            rel = f"crm/{table}/{dt}/{table}.jsonl" if source == "crm" else f"billing/{dt}/{table}.csv"
            self.sinks[(source, table)] = _Sink(self.out, rel, self.dirt)
        return self.sinks[(source, table)]

    def _flush(self, source: str, table: str) -> None:
        records = self.buffers.pop((source, table), [])
        if not records:
            return
        sink = self._sink(source, table)
        if source == "crm":
            self._flush_crm(sink, table, records)
        else:
            self._flush_billing(sink, table, records)

    def _flush_crm(self, sink: _Sink, entity: str, records: list[dict[str, Any]]) -> None:
        fields = CRM_FIELDS[entity]
        lines = [dumps({k: r.get(k) for k in fields}) for r in records]
        for pos, kind in reversed(self.dirt.pick(sink.rng, len(records), _CRM_KINDS[entity])):
            bad = dict(records[pos])
            bad[fields[0]] = f"{bad[fields[0]]}-X{sink.rows + pos}"
            if kind == "duplicate":
                line = lines[pos]
            elif kind == "null_required":
                bad["province" if entity == "customers" else "customer_id"] = None
                line = dumps(bad)
            elif kind == "out_of_range":
                bad["birth_date"] = date(self.day.year + 1, 1, 1)
                line = dumps(bad)
            else:  # orphan
                bad["customer_id"] = ORPHAN_CUSTOMER
                line = dumps(bad)
            lines.insert(pos + 1, line)
            self.manifest.count_dirty(kind, sink.rel)
        sink.append(("\n".join(lines) + "\n").encode("utf-8"), len(lines), len(records))

    def _flush_billing(self, sink: _Sink, table: str, records: list[dict[str, Any]]) -> None:
        columns = BILLING_COLUMNS[table]
        sheet = CsvFile(columns)
        for record in records:
            sheet.add(record)
        extra: list[tuple[int, bytes]] = []
        applicable = {"invoices": ("out_of_range", "duplicate"), "payments": ("orphan", "duplicate")}.get(table, ())
        for pos, kind in self.dirt.pick(sink.rng, len(sheet.rows), applicable):
            row = list(sheet.rows[pos])
            if kind == "out_of_range":
                row[0] += f"-X{sink.rows + pos}"
                row[columns.index("amount_excl_tax")] = "-999999.00"
            elif kind == "orphan":
                row[0] += f"-X{sink.rows + pos}"
                row[columns.index("invoice_id")] = "I9999999999999"
            extra.append((pos, csv_line(row)))
            self.manifest.count_dirty(kind, sink.rel)
        data = sheet.encode(extra)
        if sink.started:  # the header went out with the first chunk
            data = data.split(b"\n", 1)[1]
        sink.append(data, len(sheet.rows) + len(extra), len(sheet.rows))

    def _write_survey(self) -> None:
        if not self.responses:
            return
        export_id = f"E{self.day:%Y%m%d}-1"
        rel = f"survey/dt={self.day.isoformat()}/responses_{export_id}.jsonl"
        rng = self.dirt.rng(rel)
        exported_at = datetime.combine(
            self.day + timedelta(days=1), time(1), tzinfo=self.responses[0]["submitted_at"].tzinfo
        )
        drift = self.dirt.enabled("schema_drift") and rng.random() < min(0.2, self.dirt.rate * 20)
        envelopes = []
        for response in sorted(self.responses, key=lambda r: r["response_id"]):
            body = dict(response, channel="sms") if drift else response
            envelopes.append(
                {"vendor": SURVEY_VENDOR, "export_id": export_id, "exported_at": exported_at, "response": body}
            )
        lines: list[bytes] = [dumps(e).encode("utf-8") for e in envelopes]
        if drift:
            self.manifest.count_dirty("schema_drift", rel)
        kinds = ("malformed", "out_of_range", "duplicate", "orphan", "bad_encoding")
        for pos, kind in reversed(self.dirt.pick(rng, len(envelopes), kinds)):
            bad = json.loads(json.dumps(envelopes[pos], default=str))
            bad["response"]["response_id"] += f"-X{pos}"
            if kind == "malformed":
                line = dumps(bad).encode("utf-8")[:-7]
            elif kind == "out_of_range":
                bad["response"]["answers"][0]["score"] = bad["response"]["answers"][0]["scale_max"] + 1
                line = dumps(bad).encode("utf-8")
            elif kind == "duplicate":
                line = lines[pos]
            elif kind == "orphan":
                bad["response"]["respondent"]["customer_id"] = ORPHAN_CUSTOMER
                line = dumps(bad).encode("utf-8")
            else:  # bad_encoding: the comment in GBK inside a UTF-8 file
                bad["response"]["comment"] = "@@COMMENT@@"
                line = dumps(bad).encode("utf-8").replace(b"@@COMMENT@@", "网络信号差".encode("gbk"))
            lines.insert(pos + 1, line)
            self.manifest.count_dirty(kind, rel)
        data = b"\n".join(lines) + b"\n"
        late = self.dirt.enabled("late") and rng.random() < min(0.2, self.dirt.rate * 20)
        target = self.out / "_late" / rel if late else self.out / rel
        write_bytes(target, data)
        self.manifest.record(self.out, target, len(lines), len(envelopes))
        if late:
            self.manifest.late_files[rel] = late_delivery(self.day, rng).isoformat()
            self.manifest.count_dirty("late", rel)
        elif self.dirt.enabled("duplicate") and rng.random() < min(0.2, self.dirt.rate * 20):
            again = rel.replace(".jsonl", "-redelivered.jsonl")
            write_bytes(self.out / again, data)
            self.manifest.record(self.out, self.out / again, len(lines), 0)
            self.manifest.count_dirty("duplicate", again, len(lines))

    def _flush_export(self) -> None:
        """The legacy CRM's bulk export of the opening customers, with its own columns and codes."""
        if self.export_sink is None:
            self.export_sink = _Sink(self.out, "crm/export/customers_export.csv", self.dirt)
        sink = self.export_sink
        sheet = CsvFile([name for name, _ in EXPORT_COLUMNS])
        for record in self.exported:
            sheet.rows.append([_export_value(field_, record, sink.rng) for _, field_ in EXPORT_COLUMNS])
        self.exported = []
        extra: list[tuple[int, bytes]] = []
        for pos, kind in self.dirt.pick(sink.rng, len(sheet.rows), ("malformed", "bad_encoding", "duplicate")):
            row = list(sheet.rows[pos])
            if kind == "malformed":
                line = csv_line(row[:-3])
            elif kind == "bad_encoding":
                row[0] += f"-X{sink.rows + pos}"
                line = csv_line(row).replace(row[9].encode("utf-8"), row[9].encode("gbk"))
            else:
                line = csv_line(row)
            extra.append((pos, line))
            self.manifest.count_dirty(kind, sink.rel)
        data = sheet.encode(extra)
        if sink.started:
            data = data.split(b"\n", 1)[1]
        sink.append(data, len(sheet.rows) + len(extra), len(sheet.rows))

    def _finish_export(self) -> None:
        from telco_dw.sources.crm.export import default_mapping_yaml

        assert self.export_sink is not None
        self.manifest.record(self.out, self.export_sink.path, self.export_sink.rows, self.export_sink.clean)
        mapping = self.out / "crm" / "export" / "mapping.yml"
        write_bytes(mapping, default_mapping_yaml().encode("utf-8"))
        self.manifest.record(self.out, mapping, 0, 0)


_CRM_KINDS = {
    "customers": ("null_required", "out_of_range", "duplicate"),
    "subscriptions": ("null_required", "duplicate"),
    "tickets": ("orphan", "duplicate"),
}


def _export_value(field_: str | None, record: dict[str, Any], rng: random.Random) -> str:
    if field_ is None:
        return rng.choice(("普通", "银卡", "金卡", "钻石"))
    value = record[field_]
    if field_ == "gender":
        return "男" if value == "M" else "女"
    if field_ == "birth_date":
        return value.strftime("%Y/%m/%d")
    if field_ == "created_at":
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if isinstance(value, Decimal):
        return str(value)
    return str(value)

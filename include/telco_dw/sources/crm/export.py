"""The legacy CRM's bulk CSV export and its column mapping (YAML).

Mapping format::

    target: raw_crm.customers          # the raw table the export feeds
    encoding: utf-8                    # of the file; a row that does not decode is rejected
    columns:                           # one entry per source column
      性别:
        target: gender                 # renamed to
        cast: text                     # text | date | timestamp | integer | numeric
        format: "%Y/%m/%d"             # strptime format for date and timestamp casts
        values: {男: M, 女: F}         # value map, applied before the cast
        on_error: reject               # reject: the row goes to quarantine; null: land null, record the issue
    unmapped: keep                     # source columns without an entry are kept under `extra`

Reading yields one :class:`MappedRow` per data row: the mapped values, the issues (columns set to
null on error), or the reason the row was rejected, with the row number and raw text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from telco_dw.errors import UserError

_DEFAULT_MAPPING = """\
# Column mapping of the legacy CRM's bulk export (crm/export/customers_export.csv).
target: raw_crm.customers
encoding: utf-8
columns:
  客户编号: {target: customer_id, cast: text, on_error: reject}
  姓名: {target: full_name, cast: text, on_error: reject}
  性别: {target: gender, cast: text, values: {男: M, 女: F}, on_error: null}
  出生日期: {target: birth_date, cast: date, format: "%Y/%m/%d", on_error: null}
  证件号码: {target: id_card_no, cast: text, on_error: null}
  手机号码: {target: mobile, cast: text, on_error: null}
  电子邮箱: {target: email, cast: text, on_error: null}
  省份: {target: province, cast: text, on_error: reject}
  城市: {target: city, cast: text, on_error: reject}
  详细地址: {target: address, cast: text, on_error: null}
  开户时间: {target: created_at, cast: timestamp, format: "%Y/%m/%d %H:%M:%S", on_error: reject}
unmapped: keep
"""


def default_mapping_yaml() -> str:
    """The mapping of the simulator's export (written next to it as ``mapping.yml``)."""
    return _DEFAULT_MAPPING


@dataclass(frozen=True)
class MappedRow:
    number: int
    values: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    rejected: str | None = None
    raw: str = ""


def load_mapping(path: Path) -> dict[str, Any]:
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the mapping {path}: {exc}") from exc
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise UserError(f"{path}: a mapping needs a `columns:` section (see telco_dw/sources/crm/export.py)")
    return mapping


def _cast(value: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("cast", "text")
    if kind == "text":
        return value
    if kind == "integer":
        return int(value)
    if kind == "numeric":
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "date":
        return datetime.strptime(value, spec.get("format", "%Y-%m-%d")).date()
    if kind == "timestamp":
        return datetime.strptime(value, spec.get("format", "%Y-%m-%d %H:%M:%S")).replace(tzinfo=UTC)
    raise ValueError(f"unknown cast {kind!r}")


def read_export(path: Path, mapping: dict[str, Any]) -> Iterator[MappedRow]:
    """Map every data row of the export (see the module docstring); the header must name the columns."""
    encoding = mapping.get("encoding", "utf-8")
    columns: dict[str, dict[str, Any]] = mapping["columns"]
    with path.open("rb") as handle:
        header_line = handle.readline().decode(encoding)
        header = next(csv.reader([header_line]))
        missing = [c for c in columns if c not in header]
        if missing:
            raise UserError(f"{path}: the export lacks the mapped column(s) {missing}; its header is {header}")
        for number, raw_line in enumerate(handle, start=1):
            try:
                line = raw_line.decode(encoding)
            except UnicodeDecodeError as exc:
                yield MappedRow(
                    number,
                    {},
                    rejected=f"row {number}: not {encoding} at byte {exc.start}",
                    raw=raw_line.decode(encoding, errors="replace"),
                )
                continue
            fields = next(csv.reader(io.StringIO(line)), [])
            if len(fields) != len(header):
                yield MappedRow(
                    number, {}, rejected=f"row {number}: {len(fields)} fields, the header has {len(header)}", raw=line
                )
                continue
            values: dict[str, Any] = {}
            issues: list[str] = []
            rejected = None
            extra = {name: value for name, value in zip(header, fields, strict=True) if name not in columns}
            for name, spec in columns.items():
                value = fields[header.index(name)]
                value = spec.get("values", {}).get(value, value)
                try:
                    values[spec["target"]] = None if value == "" else _cast(value, spec)
                except (ValueError, TypeError) as exc:
                    problem = f"row {number}, column {name} -> {spec['target']}: {exc}"
                    if spec.get("on_error", "reject") == "reject":
                        rejected = problem
                        break
                    values[spec["target"]] = None
                    issues.append(problem)
            yield MappedRow(
                number, values, extra if mapping.get("unmapped", "keep") == "keep" else {}, issues, rejected, line
            )

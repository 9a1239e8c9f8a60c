"""The legacy CRM bulk export read through its YAML mapping: renames, casts, value maps, reject vs
null, unmapped columns kept, bad encodings and broken rows rejected with their row number."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from telco_dw.errors import UserError
from telco_dw.sources.crm.export import (
    Issue,
    MappedRow,
    default_mapping_yaml,
    load_mapping,
    parse_mapping,
    read_export,
)
from telco_dw.sources.crm.schema import CUSTOMERS

HEADER = "客户编号,姓名,性别,出生日期,证件号码,手机号码,电子邮箱,省份,城市,详细地址,开户时间,会员等级"
GOOD = (
    "C0000001,苏华,男,1987/04/07,320106198704073633,19955688144,a@b.cn,北京市,北京市,人民路1号,2025/04/28 17:30:37,钻石"
)


def _export(tmp_path: Path, *lines: bytes | str, bom: bool = False) -> Path:
    path = tmp_path / "customers_export.csv"
    body = [("\ufeff" if bom else "") + HEADER, *lines]
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode("utf-8")) + b"\n" for x in body))
    return path


def _read(path: Path, mapping_text: str | None = None) -> list[MappedRow]:
    return list(read_export(path, parse_mapping(yaml.safe_load(mapping_text or default_mapping_yaml()))))


def test_the_default_mapping_covers_the_crm_customer_fields() -> None:
    mapping = parse_mapping(yaml.safe_load(default_mapping_yaml()))
    targets = {c.target for c in mapping.columns}
    assert targets == set(CUSTOMERS.column_names) - {"updated_at"}  # the export has no updated_at
    assert [c.source for c in mapping.columns] == HEADER.split(",")[:-1] and mapping.keep_unmapped


def test_renames_casts_value_maps_and_unmapped_kept(tmp_path: Path) -> None:
    female = GOOD.replace("C0000001", "C0000002").replace(",男,", ",女,")
    [row, row2] = _read(_export(tmp_path, GOOD, female, bom=True))
    assert row.rejected is None and row.issues == [] and row.number == 1 and row.line == 2
    assert row.values == {
        "customer_id": "C0000001",
        "full_name": "苏华",
        "gender": "M",
        "birth_date": date(1987, 4, 7),
        "id_card_no": "320106198704073633",
        "mobile": "19955688144",
        "email": "a@b.cn",
        "province": "北京市",
        "city": "北京市",
        "address": "人民路1号",
        "created_at": datetime(2025, 4, 28, 17, 30, 37, tzinfo=UTC),
    }
    assert row.extra == {"会员等级": "钻石"} and row.target["extra"] == {"会员等级": "钻石"}
    assert row.raw == GOOD
    assert row2.values["gender"] == "F"


def test_null_on_error_lands_null_and_records_the_issue(tmp_path: Path) -> None:
    line = GOOD.replace(",男,", ",未知,").replace("1987/04/07", "1987/02/30")
    [row] = _read(_export(tmp_path, line))
    assert row.rejected is None
    assert row.values["gender"] is None and row.values["birth_date"] is None
    assert [i.column for i in row.issues] == ["性别", "出生日期"]
    assert "'未知' is not one of" in row.issues[0].reason and "%Y/%m/%d" in row.issues[1].reason
    assert isinstance(row.issues[0], Issue) and str(row.issues[1]).startswith("column 出生日期: -> birth_date")


def test_reject_on_error_rejects_the_row_naming_every_bad_column(tmp_path: Path) -> None:
    bad_time = GOOD.replace("2025/04/28 17:30:37", "2025-04-28")
    no_id = GOOD.replace("C0000001", "")
    rows = _read(_export(tmp_path, GOOD, bad_time, no_id))
    assert [r.rejected is None for r in rows] == [True, False, False]
    assert rows[1].rejected is not None and rows[1].rejected.startswith(
        "row 2 (line 3), column 开户时间: -> created_at"
    )
    assert rows[2].rejected == "row 3 (line 4), column 客户编号: -> customer_id: a value is required"
    assert rows[1].raw == bad_time


def test_a_gbk_line_in_a_utf8_file_is_rejected_with_row_and_column(tmp_path: Path) -> None:
    gbk = GOOD.replace("C0000001", "C0000003").encode("utf-8").replace("人民路1号".encode(), "人民路1号".encode("gbk"))
    rows = _read(_export(tmp_path, GOOD, gbk, GOOD.replace("C0000001", "C0000004")))
    assert [r.values.get("customer_id") for r in rows] == ["C0000001", None, "C0000004"]  # the file goes on
    reason = rows[1].rejected
    assert reason is not None and reason.startswith("row 2 (line 3), column 详细地址: not utf-8")
    assert "GBK" in reason and "\\x" in rows[1].raw and rows[1].raw.startswith("C0000003,")


def test_wrong_field_counts_are_rejected_and_quoted_fields_may_hold_commas_and_newlines(tmp_path: Path) -> None:
    truncated = ",".join(GOOD.split(",")[:9])
    quoted = GOOD.replace("人民路1号", '"人民路1号,\n3单元"')
    rows = _read(_export(tmp_path, truncated, "", quoted, GOOD))
    assert rows[0].rejected == "row 1 (line 2): 9 field(s), the header has 12"
    assert rows[1].rejected is None and rows[1].values["address"] == "人民路1号,\n3单元"  # blank line skipped
    assert (rows[1].number, rows[1].line) == (2, 4) and (rows[2].number, rows[2].line) == (3, 6)


def test_a_custom_mapping_integer_numeric_drop_unmapped_and_another_encoding(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    text = "编号;积分;余额;状态;备注\nA1;12;3.50;是;x\nA2;1.5;abc;否;y\nA3;;-2;未知;z\n"
    path.write_bytes(text.encode("gb18030"))
    mapping = """
encoding: gb18030
delimiter: ";"
unmapped: drop
columns:
  编号: {target: id}
  积分: {target: points, cast: integer, on_error: reject}
  余额: {target: balance, cast: numeric, on_error: "null"}
  状态: {target: active, values: {是: "yes", 否: "no"}, on_error: null}
"""
    rows = list(read_export(path, yaml.safe_load(mapping)))  # a plain dict is accepted too
    assert rows[0].values == {"id": "A1", "points": 12, "balance": Decimal("3.50"), "active": "yes"}
    assert rows[0].extra == {} and rows[0].target == rows[0].values
    assert rows[1].rejected is not None and "column 积分: -> points: '1.5' is not an integer" in rows[1].rejected
    assert rows[1].issues == [Issue("余额", "-> balance: 'abc' is not a number")]  # recorded even when rejected
    assert rows[2].rejected is None and rows[2].values["points"] is None and rows[2].values["balance"] == -2
    assert [i.column for i in rows[2].issues] == ["状态"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            "columns: {客户编号: {target: customer_id, on_eror: reject}}",
            r"column 客户编号: unknown key\(s\) \['on_eror'\]",
        ),
        ("columns: {客户编号: {target: customer_id, cast: float}}", "cast 'float' must be one of"),
        ("columns: {客户编号: {target: customer_id, on_error: skip}}", "on_error 'skip' must be reject or null"),
        ("columns: {客户编号: {cast: text}}", "`target`"),
        ("columns: {性别: {target: g, values: {男: yes}}}", "quote yes/no/on/off"),
        ("encoding: utf-16\ncolumns: {a: {target: a}}", "not ASCII-compatible"),
        ("encoding: klingon\ncolumns: {a: {target: a}}", "unknown encoding"),
        ("colums: {}", "non-empty `columns:`"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_what(tmp_path: Path, mapping: str, message: str) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text(mapping, encoding="utf-8")
    with pytest.raises(UserError, match=message) as err:
        load_mapping(path)
    assert str(path) in str(err.value)


def test_an_export_without_a_mapped_column_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("客户编号,姓名\nC1,x\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"lacks the mapped column\(s\) \['性别'"):
        _read(path)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("1987/04/07", "%Y/%m/%d"),
        ("1987/4/7", "%Y/%m/%d"),
        ("2025/04/28 17:30:37", "%Y/%m/%d %H:%M:%S"),
        ("1987/02/30", "%Y/%m/%d"),
        ("1987-02-03", "%Y/%m/%d"),
        ("2025/04/28 25:00:00", "%Y/%m/%d %H:%M:%S"),
        ("2025/04/28", "%Y/%m/%d %H:%M:%S"),
        ("28.04.2025", "%d.%m.%Y"),
    ],
)
def test_date_parsing_agrees_with_strptime(value: str, fmt: str) -> None:
    from telco_dw.sources.crm.export import _strptime

    def parse(fn: Any) -> Any:
        try:
            return fn(value, fmt)
        except ValueError:
            return "error"

    assert parse(_strptime) == parse(datetime.strptime)

"""The PII catalogue: every personal column, declared once in the dbt sources YAML ``meta``.

A raw column is personal when its entry says ``personal: true``, with four more keys::

    config: {meta: {personal: true, pii_category: mobile, pipl_level: personal, masking: token,
                    retention_days: 1095}}

``pii_category`` is what the value is (``DOMAIN.md``), ``pipl_level`` is ``personal`` or
``sensitive`` (PIPL art. 28 / GB/T 35273), ``masking`` one of :data:`MASKING_RULES`, and
``retention_days`` how long raw rows keep it (counted from the table's ``retention_clock``, see
:class:`PersonalColumn`). This module is the only reader: the masking, the PII
scans, grants and the compliance report take the catalogue from :func:`load`.

:func:`undeclared` is the other half of the contract: a raw column the catalogue does not declare,
but whose name or sampled values look personal, is a build failure naming table and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telco_dw.errors import UserError

if TYPE_CHECKING:
    import psycopg

MASKING_RULES = {
    "token": "keyed HMAC-SHA256 token (privacy.token): a join key that reveals nothing",
    "mask_name": "display mask: surname + * (张*)",
    "mask_mobile": "display mask: 138****1234",
    "mask_id_card": "display mask: first 6 + last 4 digits",
    "mask_email": "display mask: first letter + **** + domain",
    "mask_bank_card": "display mask: last 4 digits",
    "age_band": "generalised: birth date to a ten-year age band",
    "city_district": "generalised: address to province and city",
    "region_day": "generalised: cell series to region and day (no trajectory)",
    "scrub": "free text with identifiers replaced (privacy.scrub)",
    "drop": "not carried beyond raw",
}
LEVELS = ("personal", "sensitive")
CLOCKS = ("loaded", "superseded")
CATEGORIES = (
    "name", "mobile", "email", "address", "id_card", "birth_date", "imsi", "imei", "bank_card", "location",
    "free_text",
)  # fmt: skip


@dataclass(frozen=True)
class PersonalColumn:
    schema: str
    table: str
    column: str
    category: str
    level: str
    masking: str
    retention_days: int
    declared_in: str
    retention_clock: str = "loaded"
    """When a raw row's retention starts: ``loaded`` (its ``_loaded_at``), or ``superseded`` (when a
    newer version of the same record landed: current master data is kept while it is current)."""

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


def _meta(entry: dict[str, Any]) -> dict[str, Any]:
    config = entry.get("config") or {}
    return {**(entry.get("meta") or {}), **(config.get("meta") or {})}


def _column(schema: str, table: str, entry: dict[str, Any], where: str, clock: str) -> PersonalColumn:
    meta = _meta(entry)
    name = f"{schema}.{table}.{entry['name']}"
    missing = [k for k in ("pii_category", "pipl_level", "masking", "retention_days") if k not in meta]
    if missing:
        raise UserError(f"{where}: personal column {name} does not declare {', '.join(missing)}")
    for key, allowed in (("pii_category", CATEGORIES), ("pipl_level", LEVELS), ("masking", tuple(MASKING_RULES))):
        if meta[key] not in allowed:
            raise UserError(f"{where}: {name} has {key} {meta[key]!r}; use one of {', '.join(allowed)}")
    if not isinstance(meta["retention_days"], int) or meta["retention_days"] <= 0:
        raise UserError(f"{where}: {name} has retention_days {meta['retention_days']!r}; give a positive number")
    return PersonalColumn(
        schema, table, entry["name"], meta["pii_category"], meta["pipl_level"], meta["masking"],
        meta["retention_days"], where, clock,
    )  # fmt: skip


def load(dbt_project: Path) -> list[PersonalColumn]:
    """Every personal column declared in the project's sources YAML files, in file order."""
    import yaml

    out: list[PersonalColumn] = []
    for path in sorted((dbt_project / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        where = str(path.relative_to(dbt_project.parent))
        for source in document.get("sources") or []:
            schema = source.get("schema", source["name"])
            for table in source.get("tables") or []:
                clock = _meta(table).get("retention_clock", "loaded")
                if clock not in CLOCKS:
                    raise UserError(
                        f"{where}: {schema}.{table['name']} has retention_clock {clock!r}; use one of "
                        + ", ".join(CLOCKS)
                    )
                for entry in table.get("columns") or []:
                    if _meta(entry).get("personal"):
                        out.append(_column(schema, table["name"], entry, where, clock))
    return out


PERSONAL_NAME = re.compile(
    r"(^|_)(full_?name|name|phone|mobile|msisdn|tel|email|e_?mail|id_?card|id_?no|id_?number|passport|"
    r"address|addr|birth|dob|imsi|imei|bank|card_?no|iban|gps|lat|lon|latitude|longitude)(_|$)"
    r"|姓名|名字|手机|电话|邮箱|身份证|地址|住址|生日|出生|银行卡",
    re.IGNORECASE,
)
"""Column names that say "personal" whatever the values (English and Chinese, as CRM exports name them)."""

NOT_PERSONAL_NAME = re.compile(r"(^_)|(_id$)|(^(plan|product|vendor|cell|region|survey|channel)_name$)")
"""Names the heuristic would flag but that are not personal: metadata and internal keys, catalogue names."""


@dataclass(frozen=True)
class Undeclared:
    schema: str
    table: str
    column: str
    why: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column} ({self.why})"


def undeclared(conn: psycopg.Connection, catalogue: list[PersonalColumn], sample: int = 1000) -> list[Undeclared]:
    """Raw columns that look personal (by name, or by ``sample`` values per column) and are not declared."""
    from telco_dw.privacy.scan import scan, text_columns

    declared = {(c.schema, c.table, c.column) for c in catalogue}
    rows = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema like 'raw\\_%' order by 1, 2, ordinal_position"
    ).fetchall()
    out: list[Undeclared] = []
    for schema, table, column in rows:
        if (schema, table, column) in declared or NOT_PERSONAL_NAME.search(column):
            continue
        if PERSONAL_NAME.search(column):
            out.append(Undeclared(schema, table, column, "its name says personal data"))
    named = {(u.schema, u.table, u.column) for u in out}
    candidates = [
        c
        for c in text_columns(conn, sorted({r[0] for r in rows}))
        if c not in declared and c not in named and not c[2].startswith("_")
    ]
    for f in scan(conn, candidates, sample):
        out.append(Undeclared(f.schema, f.table, f.column, f"{f.values} of {f.read} sampled values hold a {f.kind}"))
    return out


def check(conn: psycopg.Connection, dbt_project: Path, sample: int = 1000) -> list[PersonalColumn]:
    """The catalogue, when every personal-looking raw column is in it; else :class:`UserError` naming them."""
    catalogue = load(dbt_project)
    missing = undeclared(conn, catalogue, sample)
    if missing:
        raise UserError(
            f"{len(missing)} raw column(s) hold personal data the PII catalogue does not declare: "
            + "; ".join(str(m) for m in missing)
            + ". Declare each in its sources YAML (config: meta: personal: true, pii_category, pipl_level, "
            "masking, retention_days; see docs/privacy.md) before building"
        )
    return catalogue

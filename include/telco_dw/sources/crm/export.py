"""The legacy CRM's bulk CSV export and its column mapping (YAML).

Mapping format (``crm/export/mapping.yml``; :func:`default_mapping_yaml` is the simulator's)::

    target: raw_crm.customers        # the raw table the export feeds (informative)
    encoding: utf-8                  # of the file (any Python codec: utf-8, gb18030, ...); a UTF-8 BOM is ignored
    delimiter: ","                   # optional, default ","
    strip: true                      # optional, default true: trim spaces around every value
    null_values: [""]                # optional, default [""]: values that mean "no value"
    columns:                         # one entry per source column (YAML key = the export's header name)
      性别:
        target: gender               # the target column it lands as (required)
        cast: text                   # text (default) | date | timestamp | integer | numeric
        format: "%Y/%m/%d"           # strptime format of date/timestamp (default ISO: %Y-%m-%d[ %H:%M:%S])
        timezone: UTC                # timestamp only: zone of a value without an offset (default UTC)
        values: {男: M, 女: F}       # value map, applied before the cast; a value outside it is an error
        required: false              # optional, default false: an empty value is an error
        on_error: reject             # reject (default): the row is rejected (quarantined);
                                     # null: the column lands null and the issue is recorded
    unmapped: keep                   # keep (default): other source columns go under `extra` (a JSON object);
                                     # drop: they are ignored

``on_error: null`` may be written as YAML ``null`` or the string ``"null"``. Unknown keys, casts or
``on_error`` values are refused when the mapping is loaded, naming the column, so a typo cannot
silently change what lands.

:func:`read_export` yields one :class:`MappedRow` per data record, never stops at a bad one:

- ``values``: target column → Python value (str, ``date``, aware ``datetime``, int, ``Decimal`` or None);
  ``target`` adds ``extra`` (the unmapped source columns) when the mapping keeps them;
- ``issues``: ``(column, reason)`` for each column set to null under ``on_error: null``;
- ``rejected``: None, or why the row is rejected, starting with ``row <n>``: a line that does not
  decode in the file's encoding (naming the column(s) holding the bad bytes), a wrong number of
  fields, or errors in ``on_error: reject`` columns (all of them, not just the first);
- ``number``: the data record's number (1 = first record after the header), ``line``: its first
  physical line in the file (header = line 1), ``raw``: the line(s) as text (undecodable bytes as
  ``\\xNN``).

A header that does not decode, lacks a mapped column or repeats a name raises ``UserError``: nothing
of such a file can be mapped. Memory is one record at a time.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from telco_dw.errors import UserError

log = logging.getLogger(__name__)

CASTS = ("text", "date", "timestamp", "integer", "numeric")
_COLUMN_KEYS = {"target", "cast", "format", "timezone", "values", "required", "on_error"}
_TOP_KEYS = {"target", "encoding", "delimiter", "strip", "null_values", "columns", "unmapped"}
_INTEGER = re.compile(r"[+-]?\d+")
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_MAX_LINES_PER_RECORD = 100  # a quoted field may span lines; bounded so a stray quote cannot eat the file

_DEFAULT_MAPPING = """\
# Column mapping of the legacy CRM's bulk export (crm/export/customers_export.csv) onto raw_crm.customers.
# Format: telco_dw/sources/crm/export.py (module docstring) and docs/sources.md, "CRM bulk export mapping".
# The export has no updated_at: whoever lands it sets it (e.g. to the export's time).
target: raw_crm.customers
encoding: utf-8
columns:
  客户编号: {target: customer_id, cast: text, required: true, on_error: reject}
  姓名: {target: full_name, cast: text, required: true, on_error: reject}
  性别: {target: gender, cast: text, values: {男: M, 女: F}, on_error: null}
  出生日期: {target: birth_date, cast: date, format: "%Y/%m/%d", on_error: null}
  证件号码: {target: id_card_no, cast: text, on_error: null}
  手机号码: {target: mobile, cast: text, on_error: null}
  电子邮箱: {target: email, cast: text, on_error: null}
  省份: {target: province, cast: text, required: true, on_error: reject}
  城市: {target: city, cast: text, required: true, on_error: reject}
  详细地址: {target: address, cast: text, on_error: null}
  开户时间:  # account opening time, in UTC
    {target: created_at, cast: timestamp, format: "%Y/%m/%d %H:%M:%S", timezone: UTC, required: true, on_error: reject}
unmapped: keep  # 会员等级 (membership tier) is kept under `extra`
"""


def default_mapping_yaml() -> str:
    """The mapping YAML of the simulator's export (``telco-dw simulate`` writes it as ``crm/export/mapping.yml``).

    Maps every column of ``customers_export.csv`` except 会员等级 onto the CRM customers fields of
    docs/sources.md; 会员等级 is kept under ``extra``.
    """
    return _DEFAULT_MAPPING


class Issue(NamedTuple):
    """A problem with one source column of one row."""

    column: str
    reason: str

    def __str__(self) -> str:
        return f"column {self.column}: {self.reason}"


@dataclass(frozen=True)
class MappedRow:
    """One data record of the export, mapped (see the module docstring)."""

    number: int
    values: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    rejected: str | None = None
    raw: str = ""
    line: int = 0

    @property
    def target(self) -> dict[str, Any]:
        """The target row: ``values`` plus ``extra`` (the unmapped source columns) when there are any."""
        return {**self.values, "extra": self.extra} if self.extra else dict(self.values)


@dataclass(frozen=True)
class ColumnSpec:
    """A validated mapping entry."""

    source: str
    target: str
    cast: str = "text"
    format: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    values: dict[str, str] | None = None
    required: bool = False
    reject: bool = True


@dataclass(frozen=True)
class Mapping:
    """A validated mapping (see the module docstring)."""

    columns: tuple[ColumnSpec, ...]
    encoding: str = "utf-8"
    delimiter: str = ","
    strip: bool = True
    null_values: frozenset[str] = frozenset({""})
    keep_unmapped: bool = True
    target: str | None = None


def parse_mapping(data: Any, where: str = "mapping") -> Mapping:
    """Validate a mapping (the parsed YAML); UserError naming ``where`` and the column when it is wrong."""
    import codecs

    def bad(message: str) -> UserError:
        return UserError(f"{where}: {message} (format: telco_dw/sources/crm/export.py, docs/sources.md)")

    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict) or not data["columns"]:
        raise bad("a mapping needs a non-empty `columns:` section")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise bad(f"unknown key(s) {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    encoding = str(data.get("encoding") or "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise bad(f"unknown encoding {encoding!r}") from None
    if 'a,"\n'.encode(encoding) != b'a,"\n':
        raise bad(f"encoding {encoding!r} is not ASCII-compatible (UTF-16/32 exports: convert them to UTF-8 first)")
    unmapped = data.get("unmapped", "keep")
    if unmapped not in ("keep", "drop"):
        raise bad(f"unmapped: {unmapped!r} must be keep or drop")
    delimiter = str(data.get("delimiter", ","))
    if len(delimiter) != 1:
        raise bad(f"delimiter {delimiter!r} must be one character")
    nulls = data.get("null_values", [""])
    if not isinstance(nulls, list):
        raise bad("null_values must be a list of strings")
    specs: list[ColumnSpec] = []
    targets: set[str] = set()
    for source, spec in data["columns"].items():
        name = str(source)
        if not isinstance(spec, dict):
            raise bad(f"column {name}: expected a mapping such as {{target: ..., cast: text}}")
        unknown = set(spec) - _COLUMN_KEYS
        if unknown:
            raise bad(f"column {name}: unknown key(s) {sorted(unknown)}; known: {sorted(_COLUMN_KEYS)}")
        target = spec.get("target")
        if not isinstance(target, str) or not target:
            raise bad(f"column {name}: `target` (the target column name) is required")
        if target in targets or target == "extra":
            raise bad(f"column {name}: target {target!r} is used twice or reserved")
        targets.add(target)
        cast = spec.get("cast", "text")
        if cast not in CASTS:
            raise bad(f"column {name}: cast {cast!r} must be one of {', '.join(CASTS)}")
        on_error = spec.get("on_error", "reject")
        if on_error not in ("reject", "null", None):
            raise bad(f"column {name}: on_error {on_error!r} must be reject or null")
        values = spec.get("values")
        if values is not None and not isinstance(values, dict):
            raise bad(f"column {name}: values must be a map {{source value: target value}}")
        if values and any(isinstance(v, bool) or isinstance(k, bool) for k, v in values.items()):
            raise bad(f"column {name}: a value map entry read as true/false: quote yes/no/on/off in `values`")
        try:
            zone = ZoneInfo(str(spec.get("timezone", "UTC")))
        except (ZoneInfoNotFoundError, ValueError):
            raise bad(f"column {name}: unknown timezone {spec.get('timezone')!r}") from None
        specs.append(
            ColumnSpec(
                source=name,
                target=target,
                cast=cast,
                format=str(spec["format"]) if spec.get("format") is not None else None,
                timezone=zone,
                values={str(k): str(v) for k, v in values.items()} if values else None,
                required=bool(spec.get("required", False)),
                reject=on_error == "reject",
            )
        )
    return Mapping(
        columns=tuple(specs),
        encoding=encoding,
        delimiter=delimiter,
        strip=bool(data.get("strip", True)),
        null_values=frozenset(str(v) for v in nulls),
        keep_unmapped=unmapped == "keep",
        target=data.get("target"),
    )


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping YAML file; UserError naming the file when it is unreadable or wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the export mapping {path}: {exc}") from exc
    return parse_mapping(data, str(path))


_FIELDS = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})", "H": r"(?P<H>\d{1,2})",
           "M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})"}  # fmt: skip


@lru_cache(maxsize=64)
def _compiled(fmt: str) -> re.Pattern[str] | None:
    """A regex for a format made only of %Y %m %d %H %M %S and literals (each at most once), else None."""
    parts, seen, i = [], set(), 0
    while i < len(fmt):
        if fmt[i] == "%":
            code = fmt[i + 1 : i + 2]
            if code not in _FIELDS or code in seen:
                return None
            seen.add(code)
            parts.append(_FIELDS[code])
            i += 2
        else:
            parts.append(re.escape(fmt[i]))
            i += 1
    return re.compile("".join(parts)) if {"Y", "m", "d"} <= seen else None


def _strptime(value: str, fmt: str) -> datetime:
    """``datetime.strptime`` with a fast path for plain numeric formats (same results, ValueError alike)."""
    pattern = _compiled(fmt)
    if pattern is None:
        return datetime.strptime(value, fmt)
    found = pattern.fullmatch(value)
    if found is None:
        raise ValueError(f"{value!r} does not match {fmt!r}")
    g = found.groupdict()
    return datetime(
        int(g["Y"]), int(g["m"]), int(g["d"]), int(g.get("H") or 0), int(g.get("M") or 0), int(g.get("S") or 0)
    )


def cast_value(value: str, spec: ColumnSpec) -> Any:
    """``value`` (non-empty) as the column's cast; ValueError saying why not."""
    kind = spec.cast
    if kind == "text":
        return value
    if kind == "integer":
        if not _INTEGER.fullmatch(value):
            raise ValueError(f"{value!r} is not an integer")
        return int(value)
    if kind == "numeric":
        if not _NUMERIC.fullmatch(value):
            raise ValueError(f"{value!r} is not a number")
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "date":
        fmt = spec.format or "%Y-%m-%d"
        try:
            return _strptime(value, fmt).date()
        except ValueError:
            raise ValueError(f"{value!r} is not a date in the format {fmt}") from None
    try:
        parsed = _strptime(value, spec.format) if spec.format else datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a timestamp in the format {spec.format or 'ISO 8601'}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=spec.timezone)
    return parsed.astimezone(UTC)


def _records(handle: Any, start_line: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) of each CSV record: physical lines joined while a quote is open."""
    pending: list[bytes] = []
    first = start_line
    for line_no, line in enumerate(handle, start=start_line):
        if not pending:
            if not line.strip():
                continue  # a blank line is not a record
            first = line_no
        pending.append(line)
        joined = b"".join(pending)
        if joined.count(b'"') % 2 == 0 or len(pending) >= _MAX_LINES_PER_RECORD:
            yield first, joined
            pending = []
    if pending:
        yield first, b"".join(pending)


def read_export(path: Path, mapping: Mapping | dict[str, Any]) -> Iterator[MappedRow]:
    """Map every data record of the export (see the module docstring); the header must name the mapped columns.

    Raises UserError for a file that cannot be mapped at all (unreadable, header not decodable, a
    mapped column missing, a repeated header name); a bad record never stops the file.
    """
    spec_map = mapping if isinstance(mapping, Mapping) else parse_mapping(mapping)
    encoding = spec_map.encoding
    counts = {"rows": 0, "rejected": 0, "with_issues": 0}
    try:
        handle = Path(path).open("rb")
    except OSError as exc:
        raise UserError(f"cannot read the CRM export {path}: {exc}") from exc
    with handle:
        header_bytes = handle.readline()
        try:
            header_text = header_bytes.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{path}: the header line is not {encoding} (byte {exc.start}); set `encoding:` in the mapping"
            ) from None
        header = next(csv.reader([header_text.rstrip("\r\n")], delimiter=spec_map.delimiter), [])
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise UserError(f"{path}: the header repeats a column name: {header}")
        missing = [c.source for c in spec_map.columns if c.source not in header]
        if missing:
            raise UserError(
                f"{path}: the export lacks the mapped column(s) {missing}; its header is {header}. "
                "Fix the mapping or the export."
            )
        position = {name: i for i, name in enumerate(header)}
        mapped = {c.source for c in spec_map.columns}
        unmapped = [(name, i) for i, name in enumerate(header) if name not in mapped]
        for number, (line_no, record) in enumerate(_records(handle, 2), start=1):
            counts["rows"] += 1
            row = _map(number, line_no, record, header, position, unmapped, spec_map)
            counts["rejected"] += row.rejected is not None
            counts["with_issues"] += bool(row.issues)
            yield row
    log.info("CRM export %s: %s", path, counts)


def _map(
    number: int,
    line_no: int,
    record: bytes,
    header: list[str],
    position: dict[str, int],
    unmapped: list[tuple[str, int]],
    mapping: Mapping,
) -> MappedRow:
    encoding = mapping.encoding
    where = f"row {number} (line {line_no})"
    try:
        text = record.decode(encoding).rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raw = record.decode(encoding, errors="backslashreplace").rstrip("\r\n")
        escaped = record.decode(encoding, errors="surrogateescape").rstrip("\r\n")
        cells = next(csv.reader([escaped], delimiter=mapping.delimiter), [])
        bad_cells = [(i, cell) for i, cell in enumerate(cells) if _has_surrogates(cell)]
        bad = [header[i] if i < len(header) else f"#{i + 1}" for i, _ in bad_cells]
        guess = ""
        try:
            for _, cell in bad_cells:
                cell.encode(encoding, errors="surrogateescape").decode("gb18030")
            if bad_cells and encoding.replace("-", "").lower() != "gb18030":
                guess = "; it decodes as GBK/GB18030: the file mixes encodings"
        except UnicodeError:
            pass
        return MappedRow(
            number,
            {},
            rejected=f"{where}, column {', '.join(bad) or '?'}: not {encoding} (byte 0x{record[exc.start]:02x}){guess}",
            raw=raw,
            line=line_no,
        )
    raw = text
    fields = next(csv.reader([text], delimiter=mapping.delimiter), [])
    if len(fields) != len(header):
        return MappedRow(
            number,
            {},
            rejected=f"{where}: {len(fields)} field(s), the header has {len(header)}",
            raw=raw,
            line=line_no,
        )
    if mapping.strip:
        fields = [f.strip() for f in fields]
    values: dict[str, Any] = {}
    issues: list[Issue] = []
    problems: list[Issue] = []
    for spec in mapping.columns:
        value: str | None = fields[position[spec.source]]
        if value in mapping.null_values:
            value = None
        try:
            if value is None:
                if spec.required:
                    raise ValueError("a value is required")
                values[spec.target] = None
                continue
            if spec.values is not None:
                if value not in spec.values:
                    raise ValueError(f"{value!r} is not one of {sorted(spec.values)}")
                value = spec.values[value]
            values[spec.target] = cast_value(value, spec)
        except ValueError as exc:
            values[spec.target] = None
            (problems if spec.reject else issues).append(Issue(spec.source, f"-> {spec.target}: {exc}"))
    extra = {name: fields[i] for name, i in unmapped} if mapping.keep_unmapped else {}
    rejected = f"{where}, " + "; ".join(str(p) for p in problems) if problems else None
    return MappedRow(number, values, extra, issues, rejected, raw, line_no)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)

"""Land the legacy CRM's bulk CSV export through the batch ledger, like every other load.

Write mode: one batch per export file (``source_ref`` ``crm-export/<file name>``), replaced when
the file, its mapping or its as-of time change; the same file with the same mapping and as-of is
skipped. The rows land in the raw table the mapping names (``raw_crm.customers`` by default), in
the same shape as the API's customers, so staging and the marts treat them alike.

Per row (see :mod:`telco_dw.sources.crm.export` for the mapping):

- a row the mapping rejects (``on_error: reject``, a line that does not decode or has the wrong
  number of fields) goes to ``quarantine.crm`` with the reason naming row, line and column, and its
  raw text;
- a value that fails its cast under ``on_error: null`` lands null, and the issue is kept in
  ``quarantine.column_issues`` (row, source column, reason); the batch notes count them per column;
- the declared checks of the raw table still apply (required values, types, ranges);
- the export has no ``updated_at``: unless the mapping maps one, every row gets ``as_of`` (the time
  the export reflects), so the latest-version rule of staging orders it against API versions.

Rows read = rows landed + rows quarantined, recorded in ``audit.load_batches``. Memory is one
record at a time.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from telco_dw import sources
from telco_dw.errors import UserError
from telco_dw.load.batch import Batch, Row
from telco_dw.sources.crm.export import Mapping, load_mapping, read_export
from telco_dw.sources.schema import Table

DEFAULT_TARGET = "raw_crm.customers"
UPDATED_AT = "updated_at"


def _target(mapping: Mapping, where: str) -> Table:
    """The declared raw CRM table the mapping feeds, checked against the mapping's target columns."""
    name = mapping.target or DEFAULT_TARGET
    tables = {t.qualified: t for t in sources.tables("crm")}
    if name not in tables:
        raise UserError(f"{where}: target {name!r} is not a CRM raw table; use one of {sorted(tables)}")
    table = tables[name]
    declared = set(table.column_names)
    unknown = [f"{c.source} -> {c.target}" for c in mapping.columns if c.target not in declared]
    if unknown:
        raise UserError(
            f"{where}: column(s) {unknown} map onto no column of {name} (its columns: {list(table.column_names)})"
        )
    mapped = {c.target for c in mapping.columns}
    missing = [c.name for c in table.columns if c.required and c.name not in mapped and c.name != UPDATED_AT]
    if missing:
        raise UserError(f"{where}: required column(s) {missing} of {name} are mapped from no export column")
    return table


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_batch(path: Path, mapping_path: Path, as_of: datetime) -> Batch:
    """The batch of one export file under its mapping (see the module docstring).

    Raises :class:`UserError` naming the file for a missing file, a mapping that does not fit the
    target table, or a header that lacks a mapped column.
    """
    path, mapping_path = Path(path), Path(mapping_path)
    if not path.is_file():
        raise UserError(f"no CRM export at {path}: give the path of the CSV file")
    if not mapping_path.is_file():
        raise UserError(f"no export mapping at {mapping_path}: give --mapping MAPPING.yml (format: docs/sources.md)")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    as_of = as_of.astimezone(UTC)
    mapping = load_mapping(mapping_path)
    table = _target(mapping, str(mapping_path))
    rows = read_export(path, mapping)
    first = next(rows, None)  # reads and checks the header now: a file that cannot be mapped fails before landing
    with path.open("rb") as handle:
        header_text = handle.readline().decode(mapping.encoding).removeprefix("\ufeff").rstrip("\r\n")
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=mapping.delimiter), [])]
    header_unmapped = [h for h in header if h not in {c.source for c in mapping.columns}]
    checksum = hashlib.sha256(
        f"{_sha256(path)}:{hashlib.sha256(mapping_path.read_bytes()).hexdigest()}:{as_of.isoformat()}".encode()
    ).hexdigest()
    notes: dict[str, Any] = {"export": path.name, "mapping": mapping_path.name, "as_of": as_of.isoformat()}
    if header_unmapped:
        notes["unmapped_columns"] = header_unmapped  # the raw table has no place for them: reported, not landed
    return Batch(
        table=table,
        source_ref=f"crm-export/{path.name}",
        checksum=checksum,
        rows=_rows(first, rows, table, mapping, as_of, notes),
        size_bytes=path.stat().st_size,
        notes=notes,
    )


def _rows(
    first: Any, rest: Iterator[Any], table: Table, mapping: Mapping, as_of: datetime, notes: dict[str, Any]
) -> Iterator[Row]:
    fill_updated_at = UPDATED_AT in table.column_names and UPDATED_AT not in {c.target for c in mapping.columns}
    stamp = as_of.isoformat()
    nulled: Counter[str] = Counter()
    if first is None:
        return
    for mapped in itertools.chain([first], rest):
        if mapped.rejected is not None:
            yield Row(mapped.number, None, mapped.raw, mapped.rejected)
            continue
        values = [_text(mapped.values.get(name)) for name in table.column_names]
        if fill_updated_at:
            values[table.column_names.index(UPDATED_AT)] = stamp
        issues = tuple((i.column, f"row {mapped.number} (line {mapped.line}): {i.reason}") for i in mapped.issues)
        nulled.update(i.column for i in mapped.issues)
        yield Row(mapped.number, values, issues=issues)
    if nulled:
        notes["nulled_on_error"] = dict(sorted(nulled.items()))

"""CSV files as batches: the header checked against the declared table, then the bytes streamed to COPY.

A CSV file with a header (UTF-8, comma-separated, any column order, extra columns allowed) becomes
one :class:`~telco_dw.load.batch.Batch`:

- a declared column missing from the header is breaking drift: :class:`UserError` naming the
  column(s) and the file, before anything lands; undeclared columns are additive drift, landed
  (kept in the quarantine record of a bad row) and listed in the batch notes (``extra_columns``);
- the fast paths stream the file's bytes to ``COPY ... (format csv)`` in 1 MiB chunks: into the raw
  table's typed columns (see :func:`telco_dw.load.batch.land_batch`), or as text into a stage when a
  value is not of its type or the file has undeclared columns; the row path (used when COPY refuses
  the file: a line with the wrong number of fields, bytes that are not UTF-8) parses it with
  :mod:`csv` and quarantines each malformed line with its reason; a file that is not UTF-8 fails
  whole, naming the row. All keep memory flat whatever the file's size, and all number data rows from
  1 after the header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import IO

from telco_dw.errors import UserError
from telco_dw.load.batch import Batch, CsvStream, Row
from telco_dw.sources.schema import Table

CHUNK = 1 << 20
Opener = Callable[[], IO[bytes]]
"""Opens the file (decompressed) for reading from its first byte."""


def column_positions(table: Table, header: list[str], where: str) -> tuple[list[int], list[str]]:
    """Positions of the declared columns in ``header`` and the undeclared extra columns.

    A declared column missing from the header is breaking drift: :class:`UserError` naming it.
    """
    missing = [c for c in table.column_names if c not in header]
    if missing:
        extra = [c for c in header if c not in table.column_names]
        raise UserError(
            f"{where}: schema drift: declared column(s) {missing} of {table.qualified} are missing"
            + (f" (the file has unexpected {extra}: renamed?)" if extra else "")
            + f"; fix the export or change telco_dw/sources/{table.source}/schema.py",
            source_ref=where or None,
        )
    return [header.index(c) for c in table.column_names], [c for c in header if c not in table.column_names]


def _header(opener: Opener, where: str) -> list[str] | None:
    with opener() as handle:
        line = handle.readline()
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{where}: the header line is not UTF-8 (byte {exc.start}); re-export it as UTF-8", source_ref=where
        ) from None
    return next(csv.reader([text]))


def _chunks(opener: Opener) -> Iterator[bytes]:
    with opener() as handle:
        handle.readline()
        while chunk := handle.read(CHUNK):
            yield chunk


def _rows(opener: Opener, table: Table, header: list[str], where: str) -> Iterator[Row]:
    positions, _ = column_positions(table, header, "")
    width = len(header)
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        reader = csv.reader(text)
        next(reader, None)
        number = 0
        while True:
            number += 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:  # nothing after it could be read: fail the file, land none of it
                raise UserError(
                    f"{where}: data row {number} is not UTF-8 ({exc.reason}); re-export the file as UTF-8",
                    source_ref=where,
                ) from None
            if len(fields) != width:
                yield Row(number, None, ",".join(fields), f"malformed: {len(fields)} fields, the header has {width}")
                continue
            yield Row(number, [fields[i] if fields[i] != "" else None for i in positions])


def file_batch(table: Table, source_ref: str, opener: Opener, *, checksum: str, size_bytes: int) -> Batch:
    """The batch of one CSV file (see the module docstring); breaking drift raises :class:`UserError` here."""
    header = _header(opener, source_ref)
    notes: dict[str, object] = {}
    if header is None:
        return Batch(table, source_ref, checksum, iter(()), size_bytes=size_bytes, notes=notes)
    _, extra = column_positions(table, header, source_ref)
    if extra:
        notes["extra_columns"] = extra
    return Batch(
        table=table,
        source_ref=source_ref,
        checksum=checksum,
        rows=_rows(opener, table, header, source_ref),
        size_bytes=size_bytes,
        notes=notes,
        csv=CsvStream(columns=tuple(header), chunks=lambda: _chunks(opener)),
    )

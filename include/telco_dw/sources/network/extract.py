"""Extract network-quality files: hourly cell KPIs (gzipped CSV) and daily subscriber experience (Parquet).

Write mode: one batch per file, replaced when its content changes. Cursor: the ``dt=`` partition
(files of days before the end of the data interval) plus the file ledger, so a late file is picked
up by the next run and a redelivered one is skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

from telco_dw.errors import UserError
from telco_dw.load.batch import Batch, Row
from telco_dw.sources import files
from telco_dw.sources.network.schema import CELL_KPI_HOURLY, SUBSCRIBER_EXPERIENCE_DAILY
from telco_dw.sources.schema import Table

CELL_KPI_GLOB = "network/cell_kpi/dt=*/hour=*/*.csv.gz"
EXPERIENCE_GLOB = "network/subscriber_experience/dt=*/*.parquet"


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
            + f"; fix the export or change telco_dw/sources/{table.source}/schema.py"
        )
    return [header.index(c) for c in table.column_names], [c for c in header if c not in table.column_names]


def _csv_rows(file: files.LandedFile, table: Table, notes: dict[str, object]) -> Iterator[Row]:
    with file.open(compression="gzip") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        positions, extra = column_positions(table, header, file.relative)
        if extra:
            notes["extra_columns"] = extra
        width = len(header)
        for number, fields in enumerate(reader, start=1):
            if len(fields) != width:
                yield Row(number, None, ",".join(fields), f"malformed: {len(fields)} fields, the header has {width}")
                continue
            yield Row(number, [fields[i] if fields[i] != "" else None for i in positions])


def _parquet_rows(file: files.LandedFile, table: Table, notes: dict[str, object]) -> Iterator[Row]:
    import pyarrow.parquet as pq

    with file.open() as handle:
        parquet = pq.ParquetFile(handle)
        header = parquet.schema_arrow.names
        _, extra = column_positions(table, header, file.relative)
        if extra:
            notes["extra_columns"] = extra
        number = 0
        for batch in parquet.iter_batches(batch_size=50_000, columns=list(table.column_names)):
            columns = [batch.column(name).to_pylist() for name in table.column_names]
            for values in zip(*columns, strict=True):
                number += 1
                yield Row(
                    number, [None if v is None else (v.isoformat() if isinstance(v, date) else str(v)) for v in values]
                )


def batches(landing_url: str, before: date | None) -> Iterator[Batch]:
    """One batch per network file with a partition before ``before``."""
    for pattern, table, reader in (
        (CELL_KPI_GLOB, CELL_KPI_HOURLY, _csv_rows),
        (EXPERIENCE_GLOB, SUBSCRIBER_EXPERIENCE_DAILY, _parquet_rows),
    ):
        for file in files.find(landing_url, pattern, before):
            notes: dict[str, object] = {}
            yield Batch(
                table=table,
                source_ref=file.relative,
                checksum=file.sha256(),
                rows=reader(file, table, notes),
                size_bytes=file.size,
                notes=notes,
            )

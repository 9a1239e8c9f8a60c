"""Extract network-quality files: hourly cell KPIs (gzipped CSV) and daily subscriber experience (Parquet).

The CSV files go through :mod:`telco_dw.load.csvfile` (COPY of the decompressed bytes, row path for
malformed files); ``column_positions`` is re-exported from there.

Write mode: one batch per file, replaced when its content changes. Cursor: the ``dt=`` partition
(files of days before the end of the data interval) plus the file ledger, so a late file is picked
up by the next run and a redelivered one is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from telco_dw.load.batch import Batch, Row
from telco_dw.load.csvfile import column_positions, file_batch
from telco_dw.sources import files
from telco_dw.sources.network.schema import CELL_KPI_HOURLY, SUBSCRIBER_EXPERIENCE_DAILY
from telco_dw.sources.schema import Table

__all__ = ["batches", "column_positions"]

CELL_KPI_GLOB = "network/cell_kpi/dt=*/hour=*/*.csv.gz"
EXPERIENCE_GLOB = "network/subscriber_experience/dt=*/*.parquet"


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
    """One batch per network file with a partition before ``before``: cell-KPI CSVs first, then Parquet."""
    for file in files.find(landing_url, CELL_KPI_GLOB, before):
        yield file_batch(
            CELL_KPI_HOURLY,
            file.relative,
            lambda file=file: file.open(compression="gzip"),  # type: ignore[misc]
            checksum=file.sha256(),
            size_bytes=file.size,
        )
    for file in files.find(landing_url, EXPERIENCE_GLOB, before):
        notes: dict[str, object] = {}
        yield Batch(
            table=SUBSCRIBER_EXPERIENCE_DAILY,
            source_ref=file.relative,
            checksum=file.sha256(),
            rows=_parquet_rows(file, SUBSCRIBER_EXPERIENCE_DAILY, notes),
            size_bytes=file.size,
            notes=notes,
        )

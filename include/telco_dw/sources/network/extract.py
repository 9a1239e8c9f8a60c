"""Extract network-quality files: hourly cell KPIs (gzipped CSV) and daily subscriber experience (Parquet).

The CSV files go through :mod:`telco_dw.load.csvfile` (COPY of the decompressed bytes, row path for
malformed files), the Parquet files through :mod:`telco_dw.load.parquetfile` (Arrow writes CSV bytes
for COPY).

Write mode: one batch per file, replaced when its content changes. Cursor: the ``dt=`` partition
(files of days before the end of the data interval) plus the file ledger, so a late file is picked
up by the next run and a redelivered one is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from telco_dw.load.batch import Batch
from telco_dw.load.csvfile import file_batch
from telco_dw.load.parquetfile import parquet_batch
from telco_dw.sources import files
from telco_dw.sources.network.schema import CELL_KPI_HOURLY, SUBSCRIBER_EXPERIENCE_DAILY

__all__ = ["batches"]

CELL_KPI_GLOB = "network/cell_kpi/dt=*/hour=*/*.csv.gz"
EXPERIENCE_GLOB = "network/subscriber_experience/dt=*/*.parquet"


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
        yield parquet_batch(
            SUBSCRIBER_EXPERIENCE_DAILY,
            file.relative,
            file.open,
            checksum=file.sha256(),
            size_bytes=file.size,
        )

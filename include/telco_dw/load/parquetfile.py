"""Parquet files as batches: the schema checked against the declared table, then CSV bytes streamed to COPY.

A Parquet file becomes one :class:`~telco_dw.load.batch.Batch`, with the same guarantees as a CSV
file (:mod:`telco_dw.load.csvfile`):

- a declared column missing from the file's schema is breaking drift: :class:`UserError` naming the
  column(s) and the file, before anything lands; undeclared columns are additive drift, listed in the
  batch notes (``extra_columns``) and not landed (a Parquet reader selects the columns it reads);
- the fast path: each record batch of the declared columns is written as CSV by Arrow (in C++, no
  Python per row) and those bytes go to ``COPY`` like a CSV file's: straight into the raw table's
  typed columns, or as text into the stage when a value is not of its type. Measured on 1M
  subscriber-days: 1.2 s instead of 6.7-6.9 s for the row path (docs/ingestion.md, the benchmark);
- the row path (``Batch.rows``: every value as Python text, ``str`` of the value) is kept for what the
  fast path cannot take: a declared column of a nested type (list, struct, map).

Both paths land the same values. The source text kept for a quarantined row differs in two details:
Arrow writes a whole double without its ``.0`` (``-200`` where ``str`` gives ``-200.0``), and an
empty string is null on the fast path (as an empty CSV field is). Memory stays flat: one row
group (as the file was written) at a time, passed on in batches of ``BATCH_ROWS`` rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date
from typing import IO, Any

from telco_dw.load.batch import Batch, CsvStream, Row
from telco_dw.load.csvfile import column_positions
from telco_dw.sources.schema import Table

BATCH_ROWS = 50_000
Opener = Callable[[], IO[bytes]]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _record_batches(opener: Opener, table: Table) -> Iterator[Any]:
    """The declared columns in record batches of at most ``BATCH_ROWS`` rows, one row group read at a
    time (``ParquetFile.iter_batches`` kept memory that grew with the file: about 20 MB per million
    rows; a row group at a time stays flat)."""
    import pyarrow.parquet as pq

    with opener() as handle:
        parquet = pq.ParquetFile(handle)
        for group in range(parquet.num_row_groups):
            rows = parquet.read_row_group(group, columns=list(table.column_names), use_threads=False)
            yield from rows.to_batches(max_chunksize=BATCH_ROWS)
            del rows


def _rows(opener: Opener, table: Table) -> Iterator[Row]:
    number = 0
    for batch in _record_batches(opener, table):
        columns = [batch.column(name).to_pylist() for name in table.column_names]
        for values in zip(*columns, strict=True):
            number += 1
            yield Row(number, [_text(v) for v in values])


def _csv_chunks(opener: Opener, table: Table) -> Iterator[bytes]:
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(include_header=False)
    for batch in _record_batches(opener, table):
        sink = io.BytesIO()
        pacsv.write_csv(batch, sink, options)
        yield sink.getvalue()


def parquet_batch(table: Table, source_ref: str, opener: Opener, *, checksum: str, size_bytes: int) -> Batch:
    """The batch of one Parquet file (see the module docstring); breaking drift raises :class:`UserError` here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with opener() as handle:
        schema = pq.ParquetFile(handle).schema_arrow
    _, extra = column_positions(table, schema.names, source_ref)
    notes: dict[str, object] = {"extra_columns": extra} if extra else {}
    nested = any(pa.types.is_nested(schema.field(name).type) for name in table.column_names)
    return Batch(
        table=table,
        source_ref=source_ref,
        checksum=checksum,
        rows=_rows(opener, table),
        size_bytes=size_bytes,
        notes=notes,
        csv=None if nested else CsvStream(columns=table.column_names, chunks=lambda: _csv_chunks(opener, table)),
    )

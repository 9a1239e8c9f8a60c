"""GX suites for the raw tables, one per declared table (``raw.<source>.<table>``), built from the
source contracts in ``telco_dw.sources`` so a new column or range is declared once.

The ingest DAGs run them on the batches a run just landed (``SuiteSpec.for_batches``), not on the
whole history. Landing already quarantines rows that break a declared rule, so the critical checks
here are the evidence that nothing slipped through (and a loader bug would be caught):

- critical: the table has exactly its declared and metadata columns; required values are present;
  every declared range and row rule holds; no timestamp or date is in the future; every batch's
  ledger row balances (rows read = landed + quarantined);
- warning: the source key is unique within a batch (exact duplicates land as the source sent them;
  staging de-duplicates); a batch's row count is within 1/5 and 5 times the median of the table's
  previous landed batches (a sudden drop or spike: a partial or doubled export).

Freshness (the newest load of each raw table) is dbt's source freshness, not a batch check. Queries
select only ``_row_number`` / ledger columns, so no personal value is read by a check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.load.ddl import METADATA_COLUMNS
from telco_dw.quality.spec import SuiteSpec, critical, warning
from telco_dw.sources.schema import Table

if TYPE_CHECKING:
    import great_expectations as gx

VOLUME_BAND = (0.2, 5.0)
VOLUME_HISTORY = 14
"""Previous landed batches the volume check compares with (at least 3 are needed to judge)."""


def _unexpected(query: str, description: str):  # type: ignore[no-untyped-def]
    import great_expectations.expectations as gxe

    return gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, description=description)


def _suite(table: Table) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = [
        critical(
            gxe.ExpectTableColumnsToMatchSet(
                column_set=[*table.column_names, *(name for name, _ in METADATA_COLUMNS)], exact_match=True
            )
        )
    ]
    for column in table.columns:
        if column.required:
            expectations.append(critical(gxe.ExpectColumnValuesToNotBeNull(column=column.name)))
        if column.check:
            expectations.append(
                critical(
                    _unexpected(
                        f"select _row_number from {{batch}} where not ({column.name} {column.check})",
                        f"{column.name} {column.check}",
                    )
                )
            )
        if column.type in ("timestamptz", "date"):
            expectations.append(
                critical(
                    _unexpected(
                        f"select _row_number from {{batch}} where {column.name} > now() + interval '1 day'",
                        f"{column.name} is not in the future",
                    )
                )
            )
    for description, condition in table.checks:
        expectations.append(
            critical(_unexpected(f"select _row_number from {{batch}} where not ({condition})", description))
        )
    expectations.append(
        critical(
            _unexpected(
                "select l.batch_id from audit.load_batches l where l.batch_id in "
                "(select distinct _batch_id::text from {batch}) and l.rows_read <> l.rows_landed + l.rows_quarantined",
                "every batch's ledger row balances: rows read = landed + quarantined",
            )
        )
    )
    expectations.append(warning(gxe.ExpectCompoundColumnsToBeUnique(column_list=[*table.key, "_batch_id"])))
    low, high = VOLUME_BAND
    expectations.append(
        warning(
            _unexpected(
                "select l.batch_id from audit.load_batches l cross join lateral (select "
                "percentile_cont(0.5) within group (order by p.rows_landed) as median, count(*) as n from "
                "(select rows_landed from audit.load_batches p where p.target_table = l.target_table and "
                "p.status = 'landed' and p.started_at < l.started_at "
                f"order by p.started_at desc limit {VOLUME_HISTORY}) p"
                ") h where l.batch_id in (select distinct _batch_id::text from {batch}) and h.n >= 3 and "
                f"(l.rows_landed < {low} * h.median or l.rows_landed > {high} * h.median)",
                f"each batch lands between {low} and {high} times the median of the table's previous batches",
            )
        )
    )
    return gx.ExpectationSuite(name=f"raw.{table.source}.{table.name}", expectations=expectations)


def suites() -> list[SuiteSpec]:
    return [
        SuiteSpec(
            name=f"raw.{table.source}.{table.name}",
            schema=table.schema,
            table=table.name,
            build=lambda table=table: _suite(table),  # type: ignore[misc]
            description=f"Batches landed into {table.qualified}: contract, ranges, ledger balance, volume.",
        )
        for source in sources.SOURCES
        for table in sources.tables(source)
    ]

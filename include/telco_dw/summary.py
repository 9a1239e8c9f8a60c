"""The figures a user sees at the end of ``make demo``: what landed, what was built, what was checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from telco_dw import sources
from telco_dw.warehouse import publish

if TYPE_CHECKING:
    import psycopg


@dataclass
class PipelineSummary:
    landed: dict[str, int] = field(default_factory=dict)  # source -> rows landed (ledger)
    quarantined: dict[str, int] = field(default_factory=dict)  # source -> rows quarantined (ledger)
    raw_rows: dict[str, int] = field(default_factory=dict)  # raw table -> rows present
    batches: int = 0
    marts: dict[str, int] = field(default_factory=dict)  # mart table -> rows
    checks_passed: int = 0
    checks_failed: int = 0
    checks_run_id: str | None = None
    published_run_id: str | None = None  # the run whose candidate the marts are (write-audit-publish)
    published_at: datetime | None = None
    latest_build: tuple[str, str, str | None] | None = None  # (run, status, reason) of the latest build


def _exists(conn: psycopg.Connection, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]  # type: ignore[index]


def collect(conn: psycopg.Connection) -> PipelineSummary:
    """Read the summary from the warehouse (ledger, raw tables, marts, quality results)."""
    out = PipelineSummary()
    if _exists(conn, "audit.load_batches"):
        for source, rows, held, batches in conn.execute(
            "select source, sum(rows_landed)::bigint, sum(rows_quarantined)::bigint, count(*) "
            "from audit.load_batches group by source"
        ):
            out.landed[source] = rows
            out.quarantined[source] = held
            out.batches += batches
    for source in sources.SOURCES:
        for table in sources.tables(source):
            if _exists(conn, table.qualified):
                out.raw_rows[table.qualified] = conn.execute(f"select count(*) from {table.qualified}").fetchone()[0]  # type: ignore[index]
    for (name,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    ).fetchall():
        out.marts[f"marts.{name}"] = conn.execute(f'select count(*) from marts."{name}"').fetchone()[0]  # type: ignore[index]
    if _exists(conn, "audit.dq_results"):
        row = conn.execute(
            "select run_id, count(*) filter (where success), count(*) filter (where not success) "
            "from audit.dq_results where run_id = (select run_id from audit.dq_results "
            "order by validated_at desc limit 1) group by run_id"
        ).fetchone()
        if row:
            out.checks_run_id, out.checks_passed, out.checks_failed = row
    if _exists(conn, "audit.publications"):
        published = publish.latest(conn)  # the same "which marts are live" a refusal message names
        if published:
            out.published_run_id, out.published_at = published.run_id, published.finished_at
        out.latest_build = conn.execute(
            "select run_id, status, reason from audit.publications order by started_at desc limit 1"
        ).fetchone()
    return out

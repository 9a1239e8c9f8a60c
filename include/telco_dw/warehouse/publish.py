"""Write-audit-publish of the marts (``DESIGN.md`` §3): dbt writes ``marts_candidate``, the quality
gate audits it, and only a candidate with passing evidence replaces ``marts``, in one transaction.

One row per transform run in ``audit.publications`` (``building`` → ``published`` or ``refused``):

- :func:`begin`, before dbt: records the build. The candidate schema must start from data that
  passed a gate, because dbt's incremental facts extend what they find there. After a publish it
  holds the marts published before (they passed); if the latest build was never published (a
  failed build, a refused candidate), its leftovers are dropped. Each incremental fact of the
  candidate is brought up to the published one (by the days the latest build changed, or by a copy
  of the table), so dbt extends audited data by the new days instead of recomputing every day from
  raw; unless :func:`prepare_next` did so when the latest build was published.
- :func:`publish`, after the gate: refuses unless every gate suite has evidence in
  ``audit.dq_results`` for this run, on the candidate, since :func:`begin`, without a failed
  critical check; then swaps the two schemas (``marts`` ⇄ ``marts_candidate``) and re-applies the
  roles' grants, in one transaction: a BI query sees the old marts or the new ones, never a mix,
  never a failing build. A refusal leaves ``marts`` exactly as it was and says why.
- :func:`prepare_next`, after a publish (``publish_or_refuse`` given the incremental facts): brings
  the candidate's incremental facts up to the published ones, which the next :func:`begin` would
  otherwise do while the next run waits (after a full build, a copy of every fact, vacuumed:
  :func:`vacuum_copies`).

Tables and their grants move with their schema (dbt grants ``select`` on each mart to
``bi_reader``; ``bi_reader`` has ``usage`` on ``marts`` only, never on the candidate). Views of
your own over the marts follow the table they were created on, so re-create them after a publish
or build them in dbt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telco_dw.errors import UserError

if TYPE_CHECKING:
    import psycopg

    from telco_dw.quality.spec import SuiteSpec

log = logging.getLogger(__name__)

PUBLISHED = "marts"
CANDIDATE = "marts_candidate"
GATE_SUITES = ("pii.*", "marts.*")
"""What a candidate must pass: no personal value anywhere past raw (the PII suites of staging,
snapshots and the candidate marts), and the mart suites."""
CANDIDATE_SCHEMAS = {PUBLISHED: CANDIDATE}
"""Suites declared on ``marts`` validate the candidate (``telco_dw.quality.gate.select``)."""

_LOCK = "select pg_advisory_xact_lock(hashtextextended('telco_dw.publish', 0))"


class PublishRefused(UserError):
    """The candidate lacks passing evidence: ``marts`` was left as it was. ``reason`` says why."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Publication:
    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    tables: dict[str, int] = field(default_factory=dict)
    """Published table -> rows (planner statistics, fresh: every mart is analysed after its build)."""
    reason: str | None = None


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]  # type: ignore[index]


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select to_regnamespace(%s) is not null", (schema,)).fetchone()[0]  # type: ignore[index]


def _copy_table(conn: psycopg.Connection, source: str, target: str) -> None:
    """``target`` as a copy of ``source``: its columns (``like ... including all``), rows, then
    indexes, built once over the copied rows rather than maintained row by row."""
    conn.execute(f"create table {target} (like {source} including all excluding indexes)")
    conn.execute(f"insert into {target} select * from {source}")
    indexes = conn.execute(
        "select pg_get_indexdef(index.indexrelid) from pg_index as index where index.indrelid = to_regclass(%s)",
        (source,),
    ).fetchall()
    for (definition,) in indexes:
        # CREATE [UNIQUE] INDEX <name> ON <schema>.<table> USING ...: the same index on the copy
        head, _, using = definition.partition(" USING ")
        head = head.rsplit(" ON ", 1)[0]
        conn.execute(f"{head} ON {target} USING {using}")
    conn.execute(f"analyze {target}")


def _record(conn: psycopg.Connection, relation: str) -> dict[str, Any]:
    """The window record dbt keeps in an incremental table's comment (``dbt_project/macros/merge_window.sql``)."""
    (comment,) = conn.execute("select obj_description(to_regclass(%s), 'pg_class')", (relation,)).fetchone()  # type: ignore[misc]
    return json.loads(comment) if comment and comment.startswith("{") else {}


def _columns(conn: psycopg.Connection, relation: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
        (relation,),
    ).fetchall()


def _catch_up(conn: psycopg.Connection, published: str, candidate: str, published_run: str | None) -> bool:
    """Bring ``candidate`` (the facts published before the latest, left there by the swap) up to
    ``published`` by the days the latest build changed, when the tables say exactly which: the
    published one records the run that started it from a copy of ``candidate``'s content
    (``since_run``, the latest publication) and the first day at which it differs from that copy
    (``changed_since``: dbt lowers it at each merge and each deletion; null after a full build).
    Returns False, doing nothing, when they do not (a full build, changed columns, another history)."""
    record = _record(conn, published)
    column = record.get("date_column")
    if (
        published_run is None
        or record.get("since_run") != published_run
        or not record.get("changed_since")
        or not isinstance(column, str)
        or _columns(conn, published) != _columns(conn, candidate)
    ):
        return False
    since = record["changed_since"]
    quoted = '"' + column.replace('"', '""') + '"'
    days = f"where {quoted} >= %s::date"
    deleted = conn.execute(f"delete from {candidate} {days}", (since,)).rowcount
    copied = conn.execute(f"insert into {candidate} select * from {published} {days}", (since,)).rowcount
    conn.execute(f"analyze {candidate}")
    log.info("%s caught up with %s from %s: %d rows replaced by %d", candidate, published, since, deleted, copied)
    return True


def _start_record(conn: psycopg.Connection, candidate: str, run_id: str, published: dict[str, Any]) -> None:
    """What the run starts ``candidate`` from: the published content, unchanged from no day on, and
    the published table's record (its ``stamped_through``: what dbt's merge has read of the upstream
    up to the published build, where it reads on from)."""
    record = {k: v for k, v in published.items() if k != "caught_up_with"}
    _comment(conn, candidate, record | {"since_run": run_id, "changed_since": "infinity"})


def _comment(conn: psycopg.Connection, relation: str, record: dict[str, Any]) -> None:
    from psycopg import sql

    conn.execute(sql.SQL("comment on table {} is {}").format(sql.SQL(relation), sql.Literal(json.dumps(record))))


def _bring_up(conn: psycopg.Connection, published: str, candidate: str, published_run: str | None) -> bool:
    """``candidate`` with the content of ``published``, the table of ``published_run``: as it is when
    :func:`prepare_next` brought it up to that run (``caught_up_with`` in its record), else by the
    days that run changed (:func:`_catch_up`), else by a copy of the whole table. Returns whether it
    copied the whole table."""
    if _exists(conn, candidate):
        if published_run is not None and _record(conn, candidate).get("caught_up_with") == published_run:
            return False
        if _catch_up(conn, published, candidate, published_run):
            return False
        conn.execute(f"drop table {candidate}")  # the facts published before the latest
    log.info("seeding %s from the published %s", candidate, published)
    conn.execute(f"create schema if not exists {CANDIDATE}")
    _copy_table(conn, published, candidate)
    return True


def begin(conn: psycopg.Connection, run_id: str, incremental: Sequence[str] = ()) -> bool:
    """Record that ``run_id`` builds the candidate; drop the candidate first when the latest build
    was never published; then start each ``incremental`` mart from the published one, which dbt
    extends. Returns whether the candidate was dropped. Call inside a transaction; safe to repeat for
    the same run (a retried task: what it has built is kept).

    After a publish the candidate holds the marts published before (the swap): its incremental
    facts lack what the latest build merged, and a day that build merged (a late file) but this one
    does not would be published without it. So a new run brings them up to the published ones: by
    the days the latest build changed (:func:`_catch_up`, a day's rows where a daily run merged a
    day), or else by a copy of the whole table; :func:`prepare_next` may have done it already."""
    conn.execute(_LOCK)
    latest = conn.execute(
        "select run_id, status from audit.publications where run_id <> %s order by started_at desc limit 1",
        (run_id,),
    ).fetchone()
    mine = conn.execute("select status from audit.publications where run_id = %s", (run_id,)).fetchone()
    unvalidated = (latest is None or latest[1] != "published") and mine is None
    dropped = unvalidated and _schema_exists(conn, CANDIDATE)
    if dropped:
        why = f"run {latest[0]} left it {latest[1]}" if latest else "no publish is on record"
        log.warning("dropping %s (%s): its incremental facts will be rebuilt in full", CANDIDATE, why)
        conn.execute(f"drop schema {CANDIDATE} cascade")
    published_run = latest[0] if latest and latest[1] == "published" else None
    for table in incremental:
        published, candidate = f"{PUBLISHED}.{table}", f"{CANDIDATE}.{table}"
        if not _exists(conn, published):
            continue  # never published: dbt builds it in full
        if mine is not None and _exists(conn, candidate):
            continue  # a retried run keeps what it built
        _bring_up(conn, published, candidate, published_run)
        _start_record(conn, candidate, run_id, _record(conn, published))
    conn.execute(
        "insert into audit.publications (run_id, status, started_at) values (%s, 'building', now()) "
        "on conflict (run_id) do update set status = 'building', finished_at = null, reason = null "
        "where publications.status <> 'published'",
        (run_id,),
    )
    return dropped


def _refused(conn: psycopg.Connection, reason: str) -> PublishRefused:
    current = latest(conn)
    kept = (
        f"marts stay as published by run {current.run_id} at {current.finished_at:%Y-%m-%d %H:%M:%S %Z}"
        if current and current.finished_at
        else "marts stay as they were"
    )
    return PublishRefused(f"marts not published ({kept}): {reason}", reason)


def _evidence_gaps(conn: psycopg.Connection, run_id: str, since: datetime, gate: Sequence[SuiteSpec]) -> list[str]:
    """What keeps the candidate of ``run_id`` from being published; empty when nothing does."""
    rows = conn.execute(
        "select suite, table_name, expectation, observed_value, severity = 'critical' and not success "
        "from audit.dq_results where run_id = %s and validated_at >= %s",
        (run_id, since),
    ).fetchall()
    validated = {(suite, table) for suite, table, *_ in rows}
    gaps = [
        f"{spec.name} has no result on {spec.qualified_table} in this run (did dbt or the validation fail before it?)"
        for spec in gate
        if (spec.name, spec.qualified_table) not in validated
    ]
    gaps += [
        f"{suite} on {table}: {expectation} failed (observed {observed})"
        for suite, table, expectation, observed, failed in rows
        if failed
    ]
    return gaps


def publish(conn: psycopg.Connection, run_id: str, gate: Sequence[SuiteSpec]) -> Publication:
    """Swap the candidate of ``run_id`` into ``marts`` if every suite of ``gate`` (aimed at the
    candidate) passed in this run; else raise :class:`PublishRefused` naming the failed or missing
    checks (:func:`publish_or_refuse` also records it). Call inside a transaction. Publishing an
    already published run returns it."""
    conn.execute(_LOCK)
    row = conn.execute("select status, started_at from audit.publications where run_id = %s", (run_id,)).fetchone()
    if row is None:
        raise _refused(conn, f"run {run_id} built no candidate (publish.begin was not called before dbt)")
    status, started_at = row
    if status == "published":
        return _load(conn, run_id)
    if not _schema_exists(conn, CANDIDATE):
        raise _refused(conn, f"schema {CANDIDATE} does not exist: dbt built nothing")
    gaps = _evidence_gaps(conn, run_id, started_at, gate)
    if gaps:
        shown = gaps[:10] + ([f"... and {len(gaps) - 10} more"] if len(gaps) > 10 else [])
        raise _refused(conn, "; ".join(shown))
    from telco_dw.privacy import roles

    had_marts = _schema_exists(conn, PUBLISHED)
    if had_marts:
        conn.execute(f"alter schema {PUBLISHED} rename to {PUBLISHED}_previous")
    conn.execute(f"alter schema {CANDIDATE} rename to {PUBLISHED}")
    if had_marts:
        conn.execute(f"alter schema {PUBLISHED}_previous rename to {CANDIDATE}")
    roles.apply(conn)  # schema privileges stay with the schema's oid: grant marts, revoke the candidate
    tables = {
        name: max(int(rows), 0)
        for name, rows in conn.execute(
            "select c.relname, c.reltuples from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'p') order by 1",
            (PUBLISHED,),
        )
    }
    conn.execute(
        "update audit.publications set status = 'published', finished_at = now(), tables = %s where run_id = %s",
        (json.dumps(tables), run_id),
    )
    log.info("published the candidate of run %s into %s: %s", run_id, PUBLISHED, tables)
    return _load(conn, run_id)


def refuse(conn: psycopg.Connection, run_id: str, reason: str) -> None:
    """Record that the candidate of ``run_id`` will not be published, and why. Call in a transaction."""
    conn.execute(_LOCK)
    conn.execute(
        "update audit.publications set status = 'refused', finished_at = now(), reason = %s "
        "where run_id = %s and status <> 'published'",
        (reason, run_id),
    )


def prepare_next(conn: psycopg.Connection, run_id: str, incremental: Sequence[str]) -> list[str]:
    """After the publish of ``run_id``: bring each ``incremental`` fact of the candidate (the table
    published before, left there by the swap) up to the published one, as the next :func:`begin`
    would, and record that it did (``caught_up_with``), so the next build starts from it at once.
    After a full build that is a copy of the whole table (41 s for the customer-day facts at 1M
    customers): work the full build caused, done when it is published instead of when the next
    daily run begins. Nothing is done unless ``run_id`` is the latest build and published (a publish
    repeated after a newer build began leaves that build's candidate alone). Call inside a
    transaction; a failure leaves the candidate to :func:`begin`. Returns the tables it copied
    whole, for :func:`vacuum_copies` once the transaction has committed."""
    conn.execute(_LOCK)
    newest = conn.execute("select run_id, status from audit.publications order by started_at desc limit 1").fetchone()
    if newest is None or tuple(newest) != (run_id, "published"):
        log.info("the candidate is not prepared for the next build: the latest build is %s", newest)
        return []
    copied = []
    for table in incremental:
        published, candidate = f"{PUBLISHED}.{table}", f"{CANDIDATE}.{table}"
        if not _exists(conn, published):
            continue
        if _bring_up(conn, published, candidate, run_id):
            copied.append(candidate)
        _comment(conn, candidate, _record(conn, published) | {"caught_up_with": run_id})
    return copied


def vacuum_copies(url: str, tables: Sequence[str]) -> None:
    """``VACUUM`` the candidate tables :func:`prepare_next` copied whole (after its transaction: a
    vacuum cannot run inside one). A copy is as many new rows as the table holds, which sets off
    autovacuum; left to it, the vacuum of the customer-day facts (30M rows at 1M customers, two
    minutes, throttled) ran through the next build, sharing its two cores and disk, and each lock
    the build took on the table waited for autovacuum to give way (``deadlock_timeout``, 1 s). Done
    here, it is part of publishing the full build that caused it."""
    import psycopg

    if not tables:
        return
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            conn.execute(f"vacuum {table}")
            log.info("vacuumed %s (copied whole for the next build)", table)


def prepare_next_build(url: str, run_id: str, incremental: Sequence[str]) -> list[str]:
    """:func:`prepare_next` in a transaction of its own, then :func:`vacuum_copies` of what it copied
    whole (returned). What a publish does for the next build (:func:`publish_or_refuse`; the bench
    times it apart)."""
    import psycopg

    with psycopg.connect(url) as conn, conn.transaction():
        copied = prepare_next(conn, run_id, incremental)
    vacuum_copies(url, copied)
    return copied


def publish_or_refuse(url: str, run_id: str, gate: Sequence[SuiteSpec], incremental: Sequence[str] = ()) -> Publication:
    """:func:`publish` in a transaction of its own; a refusal is recorded (:func:`refuse`), then raised.
    Once published, :func:`prepare_next_build` for the ``incremental`` facts (the marts are published
    whether or not it succeeds; a failure is logged and left to the next :func:`begin`, or to
    autovacuum)."""
    import psycopg

    with psycopg.connect(url) as conn:
        try:
            with conn.transaction():
                done = publish(conn, run_id, gate)
        except PublishRefused as refused:
            with conn.transaction():  # the swap's transaction was rolled back with the exception
                refuse(conn, run_id, refused.reason)
            raise
    if incremental:
        try:
            prepare_next_build(url, run_id, incremental)
        except psycopg.Error as exc:
            log.warning(
                "the candidate's incremental facts were not prepared for the build after run %s (%s): "
                "that build's begin (or autovacuum) will",
                run_id,
                exc,
            )
    return done


def discard(conn: psycopg.Connection) -> list[str]:
    """After an erasure's full rebuild is published: drop what the candidate still holds of the marts
    published before it (with the erased customer's derived rows), every table and view but the
    incremental facts :func:`prepare_next` brought up to the latest publish (``caught_up_with``: a
    copy of the published, erased facts). The next build starts from those as they are (:func:`begin`
    copies the facts it finds missing). Returns what it kept. Call in a transaction."""
    conn.execute(_LOCK)
    current = latest(conn)
    relations = conn.execute(
        "select format('%%I.%%I', n.nspname, c.relname), c.relkind from pg_class as c "
        "join pg_namespace as n on n.oid = c.relnamespace where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm')",
        (CANDIDATE,),
    ).fetchall()
    kept = [
        relation
        for relation, kind in relations
        if kind == "r" and current is not None and _record(conn, relation).get("caught_up_with") == current.run_id
    ]
    for relation, kind in relations:
        if relation not in kept and _exists(conn, relation):  # a view may have gone with its table
            what = {"v": "view", "m": "materialized view"}.get(kind, "table")
            conn.execute(f"drop {what} {relation} cascade")
    log.info("dropped the candidate's marts published before the erasure; kept the prepared facts %s", kept)
    return kept


def _load(conn: psycopg.Connection, run_id: str) -> Publication:
    row = conn.execute(
        "select run_id, status, started_at, finished_at, tables, reason from audit.publications where run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise UserError(f"no publication of run {run_id} in audit.publications")
    return Publication(
        run_id=row[0], status=row[1], started_at=row[2], finished_at=row[3], tables=dict(row[4] or {}), reason=row[5]
    )


def latest(conn: psycopg.Connection) -> Publication | None:
    """The latest published run, or None before the first publish."""
    row = conn.execute(
        "select run_id from audit.publications where status = 'published' order by finished_at desc limit 1"
    ).fetchone()
    return _load(conn, row[0]) if row else None

"""Write-audit-publish's rules (``telco_dw.warehouse.publish``), on a database of its own: only a
candidate with passing evidence of its own run replaces ``marts``, whole and with its grants; a
refusal leaves ``marts`` as it was and says why; a build never published is not built upon.

The evidence is written into ``audit.dq_results`` here as the gate writes it; the real gate (GX on a
dbt build) is exercised end to end in ``tests/e2e/test_warehouse_truth.py`` and ``test_pipeline.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from telco_dw.load import ddl
from telco_dw.privacy import roles
from telco_dw.quality import DQ_RESULTS_DDL, SuiteSpec
from telco_dw.warehouse import publish
from telco_dw.warehouse.connection import connect, warehouse_url

pytestmark = pytest.mark.integration

DATABASE = "telco_dw_publish_test"
GATE = [
    SuiteSpec(name=f"marts.{t}", schema="marts", table=t, build=lambda: None).targeting(schema="marts_candidate")  # type: ignore[arg-type,return-value]
    for t in ("dim_probe", "fct_probe")
]


@pytest.fixture(scope="module")
def url(warehouse) -> Iterator[str]:
    with connect(warehouse, "postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{DATABASE}" with (force)')
        conn.execute(f'create database "{DATABASE}"')
    target = warehouse_url(warehouse, DATABASE)
    with psycopg.connect(target) as conn, conn.transaction():
        ddl.ensure_all(conn)
        conn.execute(DQ_RESULTS_DDL)
    yield target
    with connect(warehouse, "postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{DATABASE}" with (force)')


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection to a warehouse with no marts, no candidate and no history."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists marts cascade; drop schema if exists marts_candidate cascade")
        conn.execute("truncate audit.publications, audit.dq_results")
        with conn.transaction():
            roles.apply(conn)
        yield conn


def _build(conn: psycopg.Connection, run_id: str, value: int) -> None:
    """What dbt does between begin and publish: (re)create the candidate's tables."""
    with conn.transaction():
        publish.begin(conn, run_id)
    conn.execute("create schema if not exists marts_candidate")
    for table in ("dim_probe", "fct_probe"):
        conn.execute(f"drop table if exists marts_candidate.{table}")
        conn.execute(f"create table marts_candidate.{table} as select {value} as v")
        conn.execute(f"grant select on marts_candidate.{table} to bi_reader")  # dbt's +grants
    conn.execute("create index fct_probe_v on marts_candidate.fct_probe (v)")  # merge_window_index's


def _evidence(conn: psycopg.Connection, run_id: str, failed: str | None = None, when: datetime | None = None) -> None:
    """One gate result per suite, as ``telco_dw.quality`` stores it; ``failed``: that suite's check fails."""
    for spec in GATE:
        conn.execute(
            "insert into audit.dq_results values (%s, %s, %s, %s, 'critical', %s, %s, %s)",
            (
                run_id,
                spec.name,
                spec.qualified_table,
                "expect_column_values_to_be_unique(column=v)",
                spec.name != failed,
                "0 of 1 rows unexpected" if spec.name != failed else "1 of 2 rows unexpected (50%)",
                when or datetime.now(UTC),
            ),
        )


def _published(conn: psycopg.Connection) -> int:
    return conn.execute("select v from marts.dim_probe").fetchone()[0]


def _as_bi_reader(conn: psycopg.Connection, statement: str) -> list[tuple]:
    with conn.transaction():
        conn.execute("set local role bi_reader")
        return conn.execute(statement).fetchall()


def test_a_passing_candidate_replaces_the_marts_whole_and_only_marts_are_readable(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1")
    done = publish.publish_or_refuse(url, "t/1", GATE)
    assert done.status == "published" and set(done.tables) == {"dim_probe", "fct_probe"}
    _build(conn, "t/2", 2)  # the candidate now starts from the published marts: nothing dropped
    _evidence(conn, "t/2")
    publish.publish_or_refuse(url, "t/2", GATE)

    assert _as_bi_reader(conn, "select v from marts.dim_probe union all select v from marts.fct_probe") == [(2,), (2,)]
    assert conn.execute("select v from marts_candidate.dim_probe").fetchone() == (1,)  # the marts before
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_bi_reader(conn, "select v from marts_candidate.dim_probe")
    assert publish.latest(conn).run_id == "t/2"  # type: ignore[union-attr]


def test_a_failed_critical_check_is_refused_naming_it_and_marts_stay(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1")
    publish.publish_or_refuse(url, "t/1", GATE)
    _build(conn, "t/2", 2)
    _evidence(conn, "t/2", failed="marts.fct_probe")

    with pytest.raises(publish.PublishRefused) as refused:
        publish.publish_or_refuse(url, "t/2", GATE)
    message = str(refused.value)
    assert "marts stay as published by run t/1" in message
    assert "marts.fct_probe on marts_candidate.fct_probe" in message and "1 of 2 rows unexpected" in message
    assert _published(conn) == 1
    assert conn.execute("select status from audit.publications where run_id = 't/2'").fetchone() == ("refused",)


def test_missing_or_stale_evidence_is_refused(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1", when=datetime.now(UTC) - timedelta(hours=1))  # from before this build began
    with pytest.raises(publish.PublishRefused, match=r"marts\.dim_probe has no result on marts_candidate\.dim_probe"):
        publish.publish_or_refuse(url, "t/1", GATE)
    with pytest.raises(publish.PublishRefused, match="built no candidate"):
        publish.publish_or_refuse(url, "t/never-began", GATE)
    assert conn.execute("select count(*) from pg_tables where schemaname = 'marts'").fetchone() == (0,)


def test_a_warning_does_not_block(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1")
    conn.execute(
        "insert into audit.dq_results values ('t/1', 'marts.dim_probe', 'marts_candidate.dim_probe', "
        "'expect_column_values_to_be_between(column=v, min_value=5)', 'warning', false, '1 of 1', now())"
    )
    assert publish.publish_or_refuse(url, "t/1", GATE).status == "published"
    assert _published(conn) == 1


def test_a_build_never_published_is_dropped_before_the_next_one(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1")
    publish.publish_or_refuse(url, "t/1", GATE)
    _build(conn, "t/2", 2)  # refused: its candidate holds unaudited rows
    _evidence(conn, "t/2", failed="marts.dim_probe")
    with pytest.raises(publish.PublishRefused):
        publish.publish_or_refuse(url, "t/2", GATE)

    with conn.transaction():
        assert publish.begin(conn, "t/3", incremental=["fct_probe"]) is True
    # the unaudited candidate is gone; the incremental fact starts again from the published one
    assert conn.execute("select to_regclass('marts_candidate.dim_probe')").fetchone() == (None,)
    assert conn.execute("select v from marts_candidate.fct_probe").fetchall() == [(1,)]
    with conn.transaction():
        assert publish.begin(conn, "t/3", incremental=["fct_probe"]) is False  # a retried task: nothing twice
    assert conn.execute("select v from marts_candidate.fct_probe").fetchall() == [(1,)]


def test_publishing_twice_is_a_no_op(url, conn):
    _build(conn, "t/1", 1)
    _evidence(conn, "t/1")
    first = publish.publish_or_refuse(url, "t/1", GATE)
    again = publish.publish_or_refuse(url, "t/1", GATE)
    assert again == first and _published(conn) == 1
    # a second swap would have put the published tables back into the candidate
    assert conn.execute("select to_regclass('marts_candidate.dim_probe')").fetchone() == (None,)


def test_a_new_build_extends_the_published_incremental_facts_not_the_ones_before_them(url, conn):
    """After a publish the candidate holds the facts published before (the swap). Extending those would
    lose what the latest build merged outside the next build's lookback (a late file's day): a new run
    starts its incremental facts from a copy of the published ones; a retried run keeps what it built."""
    for run, value in (("t/1", 1), ("t/2", 2)):
        _build(conn, run, value)
        _evidence(conn, run)
        publish.publish_or_refuse(url, run, GATE)
    assert conn.execute("select v from marts_candidate.fct_probe").fetchall() == [(1,)]  # the swap left t/1's

    with conn.transaction():
        assert publish.begin(conn, "t/3", incremental=["fct_probe"]) is False
    assert conn.execute("select v from marts_candidate.fct_probe").fetchall() == [(2,)]  # what t/2 published
    indexes = "select indexdef from pg_indexes where schemaname = 'marts_candidate' and tablename = 'fct_probe'"
    assert [i for (i,) in conn.execute(indexes)] == [
        "CREATE INDEX fct_probe_v ON marts_candidate.fct_probe USING btree (v)"
    ]  # the copy has the published table's index (the merge reads its window through it)
    assert conn.execute("select v from marts_candidate.dim_probe").fetchall() == [(1,)]  # dbt rebuilds tables
    conn.execute("insert into marts_candidate.fct_probe values (3)")  # t/3 merges a day, then its task is retried
    with conn.transaction():
        publish.begin(conn, "t/3", incremental=["fct_probe"])
    assert conn.execute("select v from marts_candidate.fct_probe order by v").fetchall() == [(2,), (3,)]


def _record(conn: psycopg.Connection, relation: str) -> dict:
    (comment,) = conn.execute("select obj_description(%s::regclass, 'pg_class')", (relation,)).fetchone()
    return json.loads(comment) if comment else {}


def test_a_new_build_catches_up_by_the_days_the_latest_build_changed(url, conn):
    """Where the published facts record the run that started them (``since_run``) and the first day
    they changed since (``changed_since``, kept by dbt's merge_window), the candidate's copy of the
    facts published before is brought up to them by those days only: the same rows as a copy, the
    older days not rewritten. Without such a record (a full build: null; another run) it is copied.
    Either way the candidate keeps the rest of the published record (``stamped_through``: where dbt
    reads on from)."""
    days = "marts_candidate.fct_days"
    content = "select day::text, v from {} order by day"
    older = f"select day::text, xmin::text from {days} where day < '2026-10-03' order by day"

    def record(relation: str, **values: str | None) -> None:
        conn.execute(f"comment on table {relation} is '{json.dumps(_record(conn, relation) | values)}'")

    def publish_run(run: str) -> None:
        for table in ("dim_probe", "fct_probe"):
            conn.execute(f"create table if not exists marts_candidate.{table} as select 1 as v")
        _evidence(conn, run)
        publish.publish_or_refuse(url, run, GATE)

    # t/1: a full build
    with conn.transaction():
        publish.begin(conn, "t/1", incremental=["fct_days"])
    conn.execute("create schema marts_candidate")
    conn.execute(f"create table {days} as select day::date, 1 as v from generate_series(1, 3) as n, "
                 "lateral (select make_date(2026, 10, n) as day) as d")  # fmt: skip
    conn.execute(f"create index fct_days_day on {days} (day)")
    record(days, date_column="day", changed_since=None, stamped_through="2026-10-03 01:00:00+00")
    publish_run("t/1")
    # t/2: starts from a copy of t/1's facts, merges a changed 10-03 and a new 10-04
    with conn.transaction():
        publish.begin(conn, "t/2", incremental=["fct_days"])
    started = {"changed_since": "infinity", "date_column": "day", "stamped_through": "2026-10-03 01:00:00+00"}
    assert _record(conn, days) == started | {"since_run": "t/2"}
    conn.execute(f"update {days} set v = 2 where day = '2026-10-03'")
    conn.execute(f"insert into {days} values ('2026-10-04', 2)")
    record(days, changed_since="2026-10-03", stamped_through="2026-10-04 01:00:00+00")
    publish_run("t/2")

    before = conn.execute(older).fetchall()  # t/1's facts, left in the candidate by the swap
    with conn.transaction():
        publish.begin(conn, "t/3", incremental=["fct_days"])
    assert conn.execute(content.format(days)).fetchall() == conn.execute(content.format("marts.fct_days")).fetchall()
    assert conn.execute(content.format(days)).fetchall()[-2:] == [("2026-10-03", 2), ("2026-10-04", 2)]
    assert conn.execute(older).fetchall() == before, "the days before changed_since were rewritten"
    assert _record(conn, days) == started | {"since_run": "t/3", "stamped_through": "2026-10-04 01:00:00+00"}

    # t/3 deletes an older day without a record of it, and is refused: t/4 starts from a whole copy
    conn.execute(f"delete from {days} where day = '2026-10-02'")
    conn.execute("update audit.publications set status = 'refused' where run_id = 't/3'")
    with conn.transaction():
        publish.begin(conn, "t/4", incremental=["fct_days"])
    assert conn.execute(content.format(days)).fetchall() == conn.execute(content.format("marts.fct_days")).fetchall()
    assert conn.execute(older).fetchall() != before
    assert _record(conn, days) == started | {"since_run": "t/4", "stamped_through": "2026-10-04 01:00:00+00"}


def test_a_publish_brings_the_candidate_up_for_the_next_build(url, conn):
    """Given the incremental facts, a publish brings the candidate's (the facts published before, left
    there by the swap) up to the published ones and records it (``caught_up_with``): after a full
    build by a copy, vacuumed (autovacuum would otherwise vacuum it during the next build), after a
    daily build by the days it changed. The next ``begin`` then starts from that table as it is,
    copying nothing."""
    days = "marts_candidate.fct_days"
    content = "select day::text, v from {} order by day"

    def build(run: str, *statements: str, **record: str | None) -> None:
        with conn.transaction():
            publish.begin(conn, run, incremental=["fct_days"])
        conn.execute("create schema if not exists marts_candidate")
        for statement in statements:
            conn.execute(statement.format(days=days))
        current = _record(conn, days)
        conn.execute(f"comment on table {days} is '{json.dumps(current | record)}'")
        for table in ("dim_probe", "fct_probe"):
            conn.execute(f"create table if not exists marts_candidate.{table} as select 1 as v")
        _evidence(conn, run)
        publish.publish_or_refuse(url, run, GATE, incremental=["fct_days"])

    def same_as_published() -> bool:
        candidate, published = (conn.execute(content.format(t)).fetchall() for t in (days, "marts.fct_days"))
        return candidate == published

    build(  # t/1: a full build
        "t/1",
        "create table {days} as select make_date(2026, 10, n) as day, 1 as v from generate_series(1, 3) as n",
        "create index fct_days_day on {days} (day)",
        date_column="day", changed_since=None,
    )  # fmt: skip
    assert same_as_published() and _record(conn, days)["caught_up_with"] == "t/1"
    vacuumed = "select last_vacuum is not null from pg_stat_user_tables where relid = %s::regclass"  # not autovacuum
    assert conn.execute(vacuumed, (days,)).fetchone() == (True,), "the copy was left to autovacuum"
    assert [i for (i,) in conn.execute("select indexname from pg_indexes where tablename = 'fct_days' "
                                       "and schemaname = 'marts_candidate'")] == ["fct_days_day"]  # fmt: skip
    prepared = conn.execute(f"select '{days}'::regclass::oid as oid").fetchone()
    xmins = "select day::text, xmin::text from {} where day < '2026-10-03' order by day"
    rows = conn.execute(xmins.format(days)).fetchall()
    published_rows = conn.execute(xmins.format("marts.fct_days")).fetchall()  # back in the candidate after t/2

    with conn.transaction():
        publish.begin(conn, "t/2", incremental=["fct_days"])
    assert conn.execute(f"select '{days}'::regclass::oid as oid").fetchone() == prepared, "begin copied it again"
    assert conn.execute(xmins.format(days)).fetchall() == rows
    assert _record(conn, days) == {"date_column": "day", "changed_since": "infinity", "since_run": "t/2"}
    conn.execute(f"insert into {days} values ('2026-10-04', 2)")  # t/2 is building: t/1's publish, repeated,
    publish.publish_or_refuse(url, "t/1", GATE, incremental=["fct_days"])  # leaves its candidate alone
    assert conn.execute(content.format(days)).fetchall()[-1] == ("2026-10-04", 2)
    assert _record(conn, days)["since_run"] == "t/2"
    conn.execute(f"delete from {days} where day = '2026-10-04'")

    conn.execute("delete from audit.publications where run_id = 't/2'")  # t/2 again, as a daily build
    build(  # merges a changed 10-03 and a new 10-04
        "t/2",
        "update {days} set v = 2 where day = '2026-10-03'",
        "insert into {days} values ('2026-10-04', 2)",
        changed_since="2026-10-03",
    )
    # the candidate now holds t/1's facts (the swap), brought up to t/2's by the days t/2 changed
    assert same_as_published() and _record(conn, days)["caught_up_with"] == "t/2"
    assert conn.execute(xmins.format(days)).fetchall() == published_rows, "the days before changed_since were rewritten"


def test_an_erasures_discard_keeps_only_the_facts_prepared_from_its_publish(url, conn):
    """After an erasure's rebuild is published, ``discard`` drops what the candidate holds of the marts
    published before (tables and views), and keeps the incremental facts the publish brought up to
    it (a copy of the erased facts): the next ``begin`` starts from them without copying again."""
    days = "marts_candidate.fct_days"
    for run in ("t/1", "t/2"):  # the build before the erasure, then the erasure's rebuild
        with conn.transaction():
            publish.begin(conn, run, incremental=["fct_days"])
        conn.execute("create schema if not exists marts_candidate")
        conn.execute(f"drop table if exists {days}")
        conn.execute(f"create table {days} as select '2026-10-01'::date as day, {run[-1]} as v")
        for table in ("dim_probe", "fct_probe"):
            conn.execute(f"create table if not exists marts_candidate.{table} as select {run[-1]} as v")
        _evidence(conn, run)
        publish.publish_or_refuse(url, run, GATE, incremental=["fct_days"])
    conn.execute("create view marts_candidate.probe_view as select v from marts_candidate.dim_probe")
    with conn.transaction():
        kept = publish.discard(conn)
    assert kept == [days]
    left = "select relname from pg_class where relnamespace = 'marts_candidate'::regnamespace and relkind in ('r', 'v')"
    assert {r for (r,) in conn.execute(left)} == {"fct_days"}
    assert conn.execute(f"select v from {days}").fetchall() == [(2,)]  # the erasure's publish
    prepared = conn.execute(f"select '{days}'::regclass::oid").fetchone()
    with conn.transaction():
        publish.begin(conn, "t/3", incremental=["fct_days"])
    assert conn.execute(f"select '{days}'::regclass::oid").fetchone() == prepared, "begin copied it again"

    conn.execute("update audit.publications set status = 'refused' where run_id = 't/3'")
    conn.execute(f"comment on table {days} is null")  # not prepared from the latest publish: it goes
    with conn.transaction():
        assert publish.discard(conn) == []
    assert conn.execute(f"select to_regclass('{days}')").fetchone() == (None,)

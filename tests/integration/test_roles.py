"""Each role reaches what DESIGN.md §5 says and nothing more: bi_reader reads marts only, including
tables created after the grants; the PII key stays out of everyone's reach."""

import psycopg
import pytest

from telco_dw.privacy import roles, tokens
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def conn(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        with conn.transaction():
            tokens.install(conn, tokens.key(warehouse), rotate=True)
            roles.apply(conn)
            roles.apply(conn)  # idempotent
        conn.execute("drop table if exists marts.role_probe")
        conn.execute("create table marts.role_probe as select 1 as n")  # created after the grants
        yield conn
        conn.execute("drop table if exists marts.role_probe")


def _as(conn, role: str, statement: str):
    with conn.transaction():
        conn.execute(f"set local role {role}")
        return conn.execute(statement).fetchall()


def _refused(conn, role: str, statement: str) -> bool:
    try:
        _as(conn, role, statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


RAW = "select count(*) from raw_crm.customers"
QUARANTINE = "select count(*) from quarantine.crm"
AUDIT = "select count(*) from audit.load_batches"
KEY = "select count(*) from privacy.token_key"


def test_bi_reader_reads_marts_only(conn):
    assert _as(conn, "bi_reader", "select n from marts.role_probe") == [(1,)]
    for statement in (RAW, QUARANTINE, AUDIT, KEY, "select privacy.token('13812345678')"):
        assert _refused(conn, "bi_reader", statement), statement
    assert _refused(conn, "bi_reader", "insert into marts.role_probe values (2)")


def test_compliance_auditor_reads_audit_not_data(conn):
    assert _as(conn, "compliance_auditor", AUDIT)[0][0] >= 0
    for statement in (RAW, QUARANTINE, KEY, "select n from marts.role_probe"):
        assert _refused(conn, "compliance_auditor", statement), statement


def test_transformer_reads_raw_builds_marts_and_tokenises_without_seeing_the_key(conn):
    assert _as(conn, "dw_transformer", RAW)[0][0] >= 0
    assert len(_as(conn, "dw_transformer", "select privacy.token('13812345678')")[0][0]) == 64
    assert len(_as(conn, "dw_transformer", "select token from privacy.tokens(array['13812345678'])")[0][0]) == 64
    assert _refused(conn, "dw_transformer", KEY)
    assert _refused(conn, "dw_transformer", QUARANTINE)
    with conn.transaction():
        conn.execute("set local role dw_transformer")
        conn.execute("create table marts.role_probe_2 as select 1 as n")
        conn.execute("drop table marts.role_probe_2")


def test_loader_writes_raw_and_audit_but_reads_no_marts(conn):
    assert _as(conn, "dw_loader", "select count(*) from audit.task_failures")[0][0] >= 0
    assert _as(conn, "dw_loader", QUARANTINE)[0][0] >= 0
    assert _refused(conn, "dw_loader", "select n from marts.role_probe")
    assert _refused(conn, "dw_loader", KEY)

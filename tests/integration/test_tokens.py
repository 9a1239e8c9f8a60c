"""``privacy.token`` (and ``privacy.tokens``, its batch form) in the warehouse: the HMAC-SHA256 of
Python's ``hmac`` under the configured key, stable across installs, different under another key, held
where only its owner can read it."""

import dataclasses
import secrets

import psycopg
import pytest

from telco_dw.errors import UserError
from telco_dw.privacy import tokens
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration

VALUES = ["13812345678", "zhang.wei@163.com", "44010619900101123X", "张伟", "460001381234567"]


@pytest.fixture()
def conn(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        conn.execute("drop schema if exists privacy cascade")
        yield conn
        conn.execute("drop schema if exists privacy cascade")


def _install(conn, key, rotate=False):
    with conn.transaction():
        return tokens.install(conn, key, rotate=rotate)


def _tokens(conn):
    singly = [conn.execute("select privacy.token(%s)", (v,)).fetchone()[0] for v in VALUES]
    batch = dict(conn.execute("select value, token from privacy.tokens(%s)", (VALUES,)).fetchall())
    assert [batch[v] for v in VALUES] == singly, "privacy.tokens differs from privacy.token"
    return singly


def test_the_warehouse_token_is_the_hmac_of_the_key(conn):
    key = secrets.token_bytes(32)
    _install(conn, key)
    assert _tokens(conn) == [tokens.token(key, v) for v in VALUES]
    assert conn.execute("select privacy.token(null)").fetchone()[0] is None
    assert conn.execute("select token from privacy.tokens(array[null]::text[])").fetchall() == [(None,)]
    long_key = secrets.token_bytes(100)  # longer than a SHA-256 block: hashed first, as HMAC says
    _install(conn, long_key, rotate=True)
    assert _tokens(conn) == [tokens.token(long_key, v) for v in VALUES]


def test_same_key_same_tokens_another_key_refused_unless_rotating(conn):
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    check = _install(conn, key)
    first = _tokens(conn)
    assert _install(conn, key) == check and _tokens(conn) == first  # idempotent
    with pytest.raises(UserError, match="made with another key") as refused:
        _install(conn, other)
    assert key.hex() not in str(refused.value) and other.hex() not in str(refused.value)
    assert _tokens(conn) == first  # nothing changed
    _install(conn, other, rotate=True)
    rotated = _tokens(conn)
    assert rotated == [tokens.token(other, v) for v in VALUES] and not set(rotated) & set(first)


def test_no_key_installed_fails_with_what_to_do(conn):
    with conn.transaction():
        conn.execute(tokens.DDL)
    for statement in ("select privacy.token('13812345678')", "select * from privacy.tokens(array['13812345678'])"):
        with pytest.raises(psycopg.errors.RaiseException, match="telco-dw privacy install-key"):
            conn.execute(statement)


def test_only_the_owner_reads_the_key(conn):
    _install(conn, secrets.token_bytes(32))
    conn.execute("drop role if exists telco_dw_test_stranger")
    conn.execute("create role telco_dw_test_stranger")
    try:
        for statement in (
            "select * from privacy.token_key",
            "select privacy.token('13812345678')",
            "select * from privacy.tokens(array['13812345678'])",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute("set local role telco_dw_test_stranger")
                conn.execute(statement)
    finally:
        conn.execute("drop role telco_dw_test_stranger")


def test_the_key_comes_from_the_setting_or_the_embedded_secrets(warehouse):
    assert tokens.key(dataclasses.replace(warehouse, pii_token_key="ab" * 32)) == bytes.fromhex("ab" * 32)
    with pytest.raises(UserError, match="at least 32"):
        tokens.key(dataclasses.replace(warehouse, pii_token_key="abcd"))
    with pytest.raises(UserError, match="not hexadecimal"):
        tokens.key(dataclasses.replace(warehouse, pii_token_key="not a key"))
    own_server = dataclasses.replace(warehouse, warehouse_url="postgresql://u@db.example/dw", pii_token_key=None)
    with pytest.raises(UserError, match="PII_TOKEN_KEY is not set"):
        tokens.key(own_server)
    if warehouse.embedded:  # generated once, kept
        assert tokens.key(warehouse) == tokens.key(warehouse) and len(tokens.key(warehouse)) == 32


def test_the_warehouse_scrubs_free_text_as_python_does(conn):
    import random

    from telco_dw.privacy.detect import kinds_in, scrub
    from telco_dw.simulate import identities as ids

    rng = random.Random(3)
    comments = [ids.comment(rng, rng.random(), ids.mobile(rng)) for _ in range(3000)]
    comments += ["+86 138-1234-5678", "卡号 6222 0212 3456 7890 123", "it's fine", None]
    _install(conn, secrets.token_bytes(32))
    scrubbed = [conn.execute("select privacy.scrub(%s)", (c,)).fetchone()[0] for c in comments]
    assert scrubbed == [scrub(c) for c in comments]
    assert sum(s != c for s, c in zip(scrubbed, comments, strict=True)) > 100  # the sample held identifiers
    assert not any(kinds_in(s) for s in scrubbed)

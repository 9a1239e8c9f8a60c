"""Keyed tokens for personal join keys: HMAC-SHA256 with a key that never enters the repo or SQL text.

A mobile number has fewer than 10^10 values, so an unsalted hash of it is reversible by enumeration;
a keyed HMAC is not, as long as the key stays out of the warehouse's readable objects. The key comes
from ``PII_TOKEN_KEY`` (production: the secret store, or the Airflow connection ``telco_dw_pii_key``
through :func:`telco_dw.tasks.pii_key_from_connection`); the embedded run generates one into
``$TELCO_DW_SECRETS_FILE``.

In the warehouse, :func:`install` keeps the key's HMAC pads in ``privacy.token_key`` (readable by
its owner only) and creates ``privacy.token(text)``, a ``security definer`` function that models call
(``privacy.tokens(text[])``, its batch form: the key read once, not per value; and
``privacy.scrub(text)``, which blanks identifiers in free text):
compiled SQL, dbt artifacts and logs hold the call, never the key. The same key gives the same token
in every run and source, so joins work; another key gives other tokens, so :func:`install` refuses a
key other than the one the warehouse's tokens were made with unless told to rotate.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from telco_dw.errors import UserError
from telco_dw.privacy.detect import scrub_sql

if TYPE_CHECKING:
    import psycopg

    from telco_dw.config import Config

MIN_KEY_BYTES = 32
_CHECK_LABEL = b"telco-dw token key check"

_DDL = """
create schema if not exists privacy;
revoke all on schema privacy from public;
create table if not exists privacy.token_key (
    singleton    boolean primary key default true check (singleton),
    inner_pad    bytea not null,
    outer_pad    bytea not null,
    check_value  text not null,
    installed_at timestamptz not null default now()
);
revoke all on privacy.token_key from public;
create or replace function privacy.missing_token_key() returns text
    language plpgsql volatile
as $$ begin
    raise exception 'no PII token key in this warehouse: run `telco-dw privacy install-key` '
        '(it reads PII_TOKEN_KEY; the embedded run generates one)';
end $$;
create or replace function privacy.token(value text) returns text
    language sql stable strict parallel safe security definer
    set search_path = pg_catalog, pg_temp
return coalesce(
    (select {hmac(value)} from privacy.token_key as k),
    privacy.missing_token_key()
);
revoke all on function privacy.token(text) from public;
create or replace function privacy.tokens(vals text[]) returns table (value text, token text)
    language plpgsql stable strict parallel safe security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    k privacy.token_key%rowtype;
begin
    select * into k from privacy.token_key;
    if not found then
        perform privacy.missing_token_key();
    end if;
    return query
        select v.val, {hmac(v.val)} from unnest(vals) as v (val);
end $$;
revoke all on function privacy.tokens(text[]) from public;
create or replace function privacy.scrub(value text) returns text
    language sql immutable strict parallel safe
return {scrub};
comment on function privacy.token(text) is
    'HMAC-SHA256 token (hex) of a personal value under the warehouse''s PII key; same key, same token.';
comment on function privacy.tokens(text[]) is
    'privacy.token of each value of an array, the key read once: (value, token) rows, a null value''s token null.';
"""


def _hmac_sql(value: str) -> str:
    """HMAC-SHA256 (hex) of the SQL text ``value`` under the pads of ``k`` (a ``privacy.token_key`` row):
    ``sha256(outer_pad || sha256(inner_pad || message))``, what :func:`token` computes in Python."""
    return f"encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to({value}, 'UTF8'))), 'hex')"


DDL = (
    _DDL.replace("{scrub}", scrub_sql())
    .replace("{hmac(value)}", _hmac_sql("value"))
    .replace("{hmac(v.val)}", _hmac_sql("v.val"))
)
"""The ``privacy`` schema: the key table, ``privacy.token`` (and ``privacy.tokens``, by the array) and
``privacy.scrub`` (free text)."""


def parse_key(text: str, origin: str) -> bytes:
    """The key bytes of a hex string; a clear error naming ``origin`` when it is not a usable key."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise UserError(f"{origin} is not hexadecimal: give the PII token key as hex digits") from None
    if len(key) < MIN_KEY_BYTES:
        raise UserError(
            f"{origin} holds {len(key)} bytes; a PII token key needs at least {MIN_KEY_BYTES} "
            "(64 hex digits: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def key(cfg: Config) -> bytes:
    """The PII token key: ``PII_TOKEN_KEY``, else (embedded warehouse only) the generated local one."""
    from telco_dw.config import local_secrets

    if cfg.pii_token_key:
        return parse_key(cfg.pii_token_key, "PII_TOKEN_KEY")
    if not cfg.embedded:
        raise UserError(
            "PII_TOKEN_KEY is not set: with a warehouse of your own (WAREHOUSE_URL) the key of the personal-data "
            "tokens must come from your secret store; set PII_TOKEN_KEY to 64 hex digits "
            "(python -c 'import secrets; print(secrets.token_hex(32))') and keep it: another key makes other tokens"
        )
    return parse_key(local_secrets(cfg)["PII_TOKEN_KEY"], f"PII_TOKEN_KEY in {cfg.secrets_file}")


def token(secret: bytes, value: str) -> str:
    """The token ``privacy.token(value)`` gives under ``secret`` (for tests and lookups)."""
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def check_value(secret: bytes) -> str:
    """Names a key without revealing it: whether two keys are the same, and nothing else."""
    return token(secret, _CHECK_LABEL.decode())[:16]


def _pads(secret: bytes) -> tuple[bytes, bytes]:
    block = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def install(conn: psycopg.Connection, secret: bytes, rotate: bool = False) -> str:
    """Create ``privacy.token`` and hold ``secret`` for it; idempotent. Returns the key's check value.

    Call inside a transaction. Raises :class:`UserError` when the warehouse holds another key and
    ``rotate`` is false: its tokens were made with that key, and a new one would silently break every
    join with them (rotating means rebuilding every model that holds tokens: ``dbt build --full-refresh``).
    """
    conn.execute("select pg_advisory_xact_lock(hashtextextended('telco_dw.privacy', 0))")
    conn.execute(DDL)
    wanted = check_value(secret)
    row = conn.execute("select check_value from privacy.token_key").fetchone()
    if row is not None and row[0] == wanted:
        return wanted
    if row is not None and not rotate:
        raise UserError(
            f"the warehouse's personal-data tokens were made with another key (check value {row[0]}, the "
            f"configured key's is {wanted}): set PII_TOKEN_KEY back to that key, or rotate on purpose with "
            "`telco-dw privacy install-key --rotate` and rebuild the marts with a full refresh"
        )
    inner, outer = _pads(secret)
    conn.execute(
        "insert into privacy.token_key (singleton, inner_pad, outer_pad, check_value) values (true, %s, %s, %s) "
        "on conflict (singleton) do update set inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad, "
        "check_value = excluded.check_value, installed_at = now()",
        (inner, outer, wanted),
    )
    return wanted

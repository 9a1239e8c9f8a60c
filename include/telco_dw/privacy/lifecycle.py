"""Retention and erasure of personal data in raw and quarantine, both logged to ``audit.privacy_actions``.

Both null the personal columns the PII catalogue declares (the rest of a row stays: facts without a
person are still facts) and delete quarantined rows that could hold the values, then the derived
tables are rebuilt from what is left (``dbt build``; tokens of erased values disappear with them).
The log holds counts, never values: ``action``, ``subject`` (the customer id for an erasure), the
table, rows affected.

- **Retention** (:func:`apply_retention`, the daily ``privacy_retention`` DAG): a declared column's
  values older than its ``retention_days``, counted from ``_loaded_at`` or, for master data with
  ``retention_clock: superseded``, from when a newer version of the record landed; quarantined rows
  older than the longest retention of their source.
- **Erasure** (:func:`erase_customer`, ``telco-dw privacy erase --customer-id``): every declared
  column of the customer's rows (by ``customer_id``, and by the mobile numbers their subscriptions
  held for tables keyed by number), and every quarantined row that names the customer or holds one
  of their values, and their tokens in dbt's snapshots (history a rebuild keeps); the caller then
  rebuilds the marts with a full refresh (incremental facts keep old days otherwise). Safe to
  repeat: a second run finds nothing and logs zeros.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from telco_dw.privacy.catalogue import PersonalColumn

if TYPE_CHECKING:
    import psycopg


def _by_table(catalogue: Iterable[PersonalColumn]) -> dict[tuple[str, str], list[PersonalColumn]]:
    out: dict[tuple[str, str], list[PersonalColumn]] = defaultdict(list)
    for column in catalogue:
        out[(column.schema, column.table)].append(column)
    return out


def _log(conn: psycopg.Connection, action: str, subject: str | None, target: str, rows: int, detail: dict) -> None:
    conn.execute(
        "insert into audit.privacy_actions (action, subject, target, rows_affected, detail) "
        "values (%s, %s, %s, %s, %s)",
        (action, subject, target, rows, json.dumps(detail)),
    )


def _key(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    from telco_dw import sources

    for source in sources.SOURCES:
        for declared in sources.tables(source):
            if (declared.schema, declared.name) == (schema, table):
                return list(declared.key)
    raise LookupError(f"{schema}.{table} is not a declared raw table")


def apply_retention(conn: psycopg.Connection, catalogue: list[PersonalColumn]) -> dict[str, int]:
    """Null personal values past their retention; delete old quarantined rows. Rows affected per target."""
    done: dict[str, int] = {}
    for (schema, table), columns in _by_table(catalogue).items():
        for days in sorted({c.retention_days for c in columns}):
            names = [c.column for c in columns if c.retention_days == days]
            assignments = ", ".join(f'"{n}" = null' for n in names)
            holding = " or ".join(f'"{n}" is not null' for n in names)
            if columns[0].retention_clock == "superseded":
                key = " and ".join(f'newer."{k}" = old."{k}"' for k in _key(conn, schema, table))
                expired = (
                    f"exists (select from {schema}.{table} newer where {key} and newer._loaded_at < "
                    f"now() - make_interval(days => {days}) and (newer._loaded_at, newer._row_number) > "
                    "(old._loaded_at, old._row_number))"
                )
            else:
                expired = f"old._loaded_at < now() - make_interval(days => {days})"
            rows = conn.execute(
                f"update {schema}.{table} old set {assignments} where ({holding}) and {expired}"
            ).rowcount
            target = f"{schema}.{table}({', '.join(names)})"
            _log(conn, "retention", None, target, rows, {"retention_days": days, "columns": names})
            done[target] = rows
    longest: dict[str, int] = defaultdict(int)
    for column in catalogue:
        source = column.schema.removeprefix("raw_")
        longest[source] = max(longest[source], column.retention_days)
    for source, days in sorted(longest.items()):
        rows = conn.execute(
            f"delete from quarantine.{source} where quarantined_at < now() - make_interval(days => {days})"
        ).rowcount
        _log(conn, "retention", None, f"quarantine.{source}", rows, {"retention_days": days})
        done[f"quarantine.{source}"] = rows
    return done


def _customer_values(conn: psycopg.Connection, customer_id: str) -> tuple[list[str], list[str]]:
    """The customer's mobile numbers (subscriptions and contact) and every personal value CRM holds."""
    numbers = [
        r[0]
        for r in conn.execute(
            "select msisdn from raw_crm.subscriptions where customer_id = %s and msisdn is not null "
            "union select mobile from raw_crm.customers where customer_id = %s and mobile is not null",
            (customer_id, customer_id),
        )
    ]
    values = [
        r[0]
        for r in conn.execute(
            "select distinct v from raw_crm.customers, lateral (values (full_name), (id_card_no), (mobile), "
            "(email), (address)) as t(v) where customer_id = %s and v is not null and length(v) >= 4",
            (customer_id,),
        )
    ]
    return numbers, sorted(set(values) | set(numbers))


def erase_customer(conn: psycopg.Connection, catalogue: list[PersonalColumn], customer_id: str) -> dict[str, int]:
    """Remove one customer's personal data from raw and quarantine (see the module docstring)."""
    numbers, values = _customer_values(conn, customer_id)
    done: dict[str, int] = {}
    for (schema, table), columns in _by_table(catalogue).items():
        have = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (schema, table),
            )
        }
        params: tuple[object, ...]
        if "customer_id" in have:
            whose, params = "customer_id = %s", (customer_id,)
        elif "msisdn" in have:
            whose, params = "msisdn = any(%s)", (numbers,)
        else:
            continue
        names = [c.column for c in columns]
        holding = " or ".join(f'"{n}" is not null' for n in names)
        assignments = ", ".join(f'"{n}" = null' for n in names)
        rows = conn.execute(f"update {schema}.{table} set {assignments} where {whose} and ({holding})", params).rowcount
        target = f"{schema}.{table}"
        _log(conn, "erasure", customer_id, target, rows, {"columns": names})
        done[target] = rows
    # history dbt keeps rather than rebuilds (snapshots): the customer's tokens go there too
    for schema, table, columns in conn.execute(
        "select c.table_schema, c.table_name, array_agg(t.column_name::text order by t.column_name) "
        "from information_schema.columns c join information_schema.columns t using (table_schema, table_name) "
        "where c.table_schema = 'snapshots' and c.column_name = 'customer_id' and t.column_name like '%%\\_token' "
        "group by 1, 2"
    ).fetchall():
        assignments = ", ".join(f'"{n}" = null' for n in columns)
        holding = " or ".join(f'"{n}" is not null' for n in columns)
        rows = conn.execute(
            f'update {schema}."{table}" set {assignments} where customer_id = %s and ({holding})', (customer_id,)
        ).rowcount
        _log(conn, "erasure", customer_id, f"{schema}.{table}", rows, {"columns": columns})
        done[f"{schema}.{table}"] = rows
    for source in sorted({c.schema.removeprefix("raw_") for c in catalogue}):
        rows = conn.execute(
            f"delete from quarantine.{source} q where q.raw_record ->> 'customer_id' = %s "
            "or q.raw_record ->> 'msisdn' = any(%s) or coalesce(q.raw_text, '') ~ %s "
            "or exists (select from unnest(%s::text[]) v "
            "where strpos(coalesce(q.raw_text, '') || coalesce(q.raw_record::text, '') || q.reason, v) > 0)",
            (customer_id, numbers, rf"(^|[^0-9A-Za-z]){re.escape(customer_id)}([^0-9A-Za-z]|$)", values),
        ).rowcount
        _log(conn, "erasure", customer_id, f"quarantine.{source}", rows, {})
        done[f"quarantine.{source}"] = rows
    return done

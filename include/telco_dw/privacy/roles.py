"""The warehouse's roles and what each may reach (``DESIGN.md`` §5).

``apply`` creates the roles when missing and grants exactly this, now and for tables created later
(default privileges of the role that runs it, which is the one that runs the loaders and dbt):

| role | may |
|---|---|
| ``dw_loader`` | write the raw, quarantine and audit schemas (the ingest DAGs) |
| ``dw_transformer`` | read raw, write staging to marts (dbt), call ``privacy.token``/``tokens``/``scrub`` |
| ``bi_reader`` | read ``marts`` and nothing else (not ``marts_candidate``: unaudited) |
| ``compliance_auditor`` | read ``audit`` (ledger, failures, quality results) and nothing else |

The roles can log in without a password, which the embedded server (127.0.0.1, trust) accepts; on a
server of your own give each a password or certificate as your policy says (``alter role``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telco_dw import sources

if TYPE_CHECKING:
    import psycopg

RAW = tuple(f"raw_{source}" for source in sources.SOURCES)
BUILT = ("staging", "intermediate", "marts", "marts_candidate", "snapshots")

ROLES: dict[str, str] = {
    "dw_loader": "writes raw, quarantine and audit (ingest DAGs)",
    "dw_transformer": "reads raw, builds staging to marts (dbt)",
    "bi_reader": "reads marts only (BI tools, the dashboard)",
    "compliance_auditor": "reads audit only (ledger, task failures, quality results)",
}


def _schema_grants(schema: str, role: str, tables: str, create: bool) -> list[str]:
    usage = "usage, create" if create else "usage"
    return [
        f"create schema if not exists {schema}",
        f"grant {usage} on schema {schema} to {role}",
        f"grant {tables} on all tables in schema {schema} to {role}",
        f"alter default privileges in schema {schema} grant {tables} on tables to {role}",
        f"grant usage, select on all sequences in schema {schema} to {role}",
        f"alter default privileges in schema {schema} grant usage, select on sequences to {role}",
    ]


def statements() -> list[str]:
    """Every statement :func:`apply` runs, in order (idempotent)."""
    out = [
        f"do $$ begin if not exists (select from pg_roles where rolname = '{role}') then "
        f"create role {role} login; end if; end $$"
        for role in ROLES
    ]
    out += [f"comment on role {role} is 'telco-dw: {what}'" for role, what in ROLES.items()]
    write = "select, insert, update, delete, truncate"
    for schema in (*RAW, "quarantine", "audit"):
        out += _schema_grants(schema, "dw_loader", write, create=False)
    for schema in (*RAW, "audit"):
        out += _schema_grants(schema, "dw_transformer", "select", create=False)
    for schema in BUILT:
        out += _schema_grants(schema, "dw_transformer", write, create=True)
    out += _schema_grants("marts", "bi_reader", "select", create=False)
    # the candidate is what dbt just built, unaudited (write-audit-publish, telco_dw.warehouse.publish);
    # after a publish it holds the previous marts, whose schema privileges came along with its oid
    out += [
        "revoke all on schema marts_candidate from bi_reader",
        "revoke all on all tables in schema marts_candidate from bi_reader",
        "alter default privileges in schema marts_candidate revoke all on tables from bi_reader",
    ]
    out += _schema_grants("audit", "compliance_auditor", "select", create=False)
    out += [
        "create schema if not exists privacy",
        "grant usage on schema privacy to dw_transformer",
    ]
    out += [
        f"do $$ begin if to_regprocedure('{function}') is not null then "
        f"grant execute on function {function} to dw_transformer; end if; end $$"
        for function in ("privacy.token(text)", "privacy.tokens(text[])", "privacy.scrub(text)")
    ]
    return out


def apply(conn: psycopg.Connection) -> None:
    """Create the roles and apply their grants; idempotent. Call inside a transaction."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended('telco_dw.roles', 0))")
    for statement in statements():
        conn.execute(statement)

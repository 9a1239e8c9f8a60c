"""What must hold in the warehouse before dbt runs, as one call (the transform DAG's
``prepare_privacy`` task, and every test or tool that builds the marts without it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.privacy import catalogue, roles, tokens

if TYPE_CHECKING:
    import psycopg


def prepare(conn: psycopg.Connection, dbt_project: Path, key: bytes) -> tuple[int, str]:
    """Refuse undeclared personal raw columns (:func:`catalogue.check`), hold the PII token ``key``
    (:func:`tokens.install`; another key is refused) and apply the roles' grants (:func:`roles.apply`).

    Returns (personal columns declared, the key's check value). Call inside a transaction.
    """
    declared = catalogue.check(conn, dbt_project)
    check = tokens.install(conn, key)
    roles.apply(conn)
    return len(declared), check

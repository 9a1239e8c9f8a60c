"""Declared shape of a landed (raw) table: the contract between a source and the warehouse."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A source column and the PostgreSQL type it lands as."""

    name: str
    type: str
    required: bool = False
    check: str | None = None
    """SQL condition on the typed value, e.g. ``between -156 and -31``; failing rows are quarantined."""


@dataclass(frozen=True)
class Table:
    """A raw table ``raw_<source>.<name>``; ``key`` identifies a source record."""

    source: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    checks: tuple[tuple[str, str], ...] = ()
    """Row conditions over typed columns as (description, SQL), e.g. ("score within its scale", ...)."""

    @property
    def schema(self) -> str:
        return f"raw_{self.source}"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def table(
    source: str,
    name: str,
    key: str | tuple[str, ...],
    *columns: tuple[str, str] | tuple[str, str, bool] | tuple[str, str, bool, str],
    checks: tuple[tuple[str, str], ...] = (),
) -> Table:
    """Shorthand for the per-source schema modules: ``table(source, name, key, (column, type[, required]), ...)``.

    A column tuple is ``(name, type)``, ``(name, type, required)`` or ``(name, type, required, check)``;
    key columns are always required.
    """
    keys = (key,) if isinstance(key, str) else key
    cols = tuple(
        Column(
            c[0],
            c[1],
            bool(c[2]) or c[0] in keys if len(c) > 2 else c[0] in keys,  # type: ignore[misc]
            c[3] if len(c) > 3 else None,  # type: ignore[misc]
        )
        for c in columns
    )
    return Table(source=source, name=name, columns=cols, key=keys, checks=checks)

"""What a data-quality suite is: a GX Expectation Suite, the table it checks, and a severity per check.

A :class:`SuiteSpec` names its target table (schema, table) and builds its
``gx.ExpectationSuite`` on demand, so the ``expectations/`` modules stay cheap to import and
Great Expectations (about 10 s to import) is loaded only by the process that validates.

Every expectation carries a severity, ``critical`` or ``warning``, set with :func:`critical` or
:func:`warning`. It is written both to the expectation's ``meta["severity"]`` (the project's
contract, stored in ``audit.dq_results``) and to GX's own ``severity`` field (so GX checkpoint
actions and Data Docs agree). A critical failure fails the validation and blocks publishing; a
warning is recorded, never hidden.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeVar, cast

from telco_dw.errors import UserError

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

Severity = Literal["critical", "warning"]
CRITICAL: Final = "critical"
WARNING: Final = "warning"
SEVERITIES: Final[tuple[Severity, ...]] = (CRITICAL, WARNING)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

SAME_SCHEMA: Final = "__schema__"
"""Written in a SQL check (``unexpected_rows_query``) where another table of the validated table's
schema is read: ``__schema__.dim_customers``. :meth:`SuiteSpec.suite` replaces it with the schema the
suite targets, so a relationship check of the candidate marts reads the candidate's dimension."""

E = TypeVar("E", bound="Expectation")


class SuiteDefinitionError(UserError):
    """A suite in ``expectations/`` is malformed (wrong name, a check without a valid severity)."""


def _tag(expectation: E, severity: Severity) -> E:
    from great_expectations.expectations.metadata_types import FailureSeverity

    expectation.meta = {**(expectation.meta or {}), "severity": severity}
    expectation.severity = FailureSeverity(severity)
    return expectation


def critical(expectation: E) -> E:
    """The same expectation, tagged ``critical``: its failure fails the validation and blocks publishing."""
    return _tag(expectation, CRITICAL)


def warning(expectation: E) -> E:
    """The same expectation, tagged ``warning``: its failure is recorded and logged, the validation passes."""
    return _tag(expectation, WARNING)


def severity_of(meta: dict[str, object] | None) -> Severity | None:
    """The severity recorded in an expectation's ``meta``, or None when it is missing or not a known level."""
    value = (meta or {}).get("severity")
    return cast(Severity, value) if value in SEVERITIES else None


@dataclass(frozen=True)
class SuiteSpec:
    """One GX suite and the PostgreSQL table it validates.

    ``build`` returns a fresh ``gx.ExpectationSuite`` named ``name`` on every call (GX assigns ids to
    a suite when it is added to a context, so a suite object is never shared between runs).
    Use :meth:`targeting` to point the same checks at another schema or table, e.g. the
    write-audit-publish candidate schema or a test's scratch schema.
    """

    name: str
    schema: str
    table: str
    build: Callable[[], ExpectationSuite] = dataclasses.field(compare=False, repr=False)
    description: str = ""
    row_filter: str | None = None
    """A SQL condition on the table's columns: validate only the rows it keeps (e.g. the batches one
    ingest run landed, see :meth:`for_batches`); None validates the whole table."""

    def __post_init__(self) -> None:
        for label, value in (("schema", self.schema), ("table", self.table)):
            if not _IDENTIFIER.match(value):
                raise SuiteDefinitionError(
                    f"suite {self.name!r}: {label} {value!r} is not a plain lowercase PostgreSQL identifier "
                    "(letters, digits, underscores; 63 characters at most); rename it in expectations/."
                )

    @property
    def qualified_table(self) -> str:
        """``schema.table``, as written in messages and in ``audit.dq_results.table_name``."""
        return f"{self.schema}.{self.table}"

    def targeting(self, *, schema: str | None = None, table: str | None = None) -> SuiteSpec:
        """The same suite aimed at another schema and/or table (the checks are unchanged)."""
        return dataclasses.replace(self, schema=schema or self.schema, table=table or self.table)

    def for_batches(self, batch_ids: list[str]) -> SuiteSpec:
        """The same suite on the rows of these landing batches only (``_batch_id``, a raw table's)."""
        import uuid

        try:
            ids = [str(uuid.UUID(str(b))) for b in batch_ids]
        except ValueError as exc:
            raise SuiteDefinitionError(f"suite {self.name!r}: batch ids must be UUIDs ({exc})") from None
        listed = ", ".join(f"'{b}'" for b in ids) or "null"
        return dataclasses.replace(self, row_filter=f"_batch_id in ({listed})")

    def suite(self) -> ExpectationSuite:
        """Build the GX suite (``__schema__`` in its SQL checks made ``self.schema``) and check it: its
        name is ``self.name``, it has at least one expectation,
        and every expectation has a severity of ``critical`` or ``warning`` in ``meta`` that agrees with
        GX's own ``severity`` field. Raises :class:`SuiteDefinitionError` naming the faulty check.
        """
        built = self.build()
        for expectation in built.expectations:
            query = getattr(expectation, "unexpected_rows_query", None)
            if isinstance(query, str) and SAME_SCHEMA in query:
                expectation.unexpected_rows_query = query.replace(SAME_SCHEMA, self.schema)  # type: ignore[attr-defined]
        if built.name != self.name:
            raise SuiteDefinitionError(
                f"suite {self.name!r} builds a GX suite named {built.name!r}; make the names equal in expectations/."
            )
        if not built.expectations:
            raise SuiteDefinitionError(f"suite {self.name!r} has no expectations; add at least one in expectations/.")
        for expectation in built.expectations:
            level = severity_of(expectation.meta)
            native = getattr(expectation.severity, "value", expectation.severity)
            if level is None or native != level:
                raise SuiteDefinitionError(
                    f"suite {self.name!r}: {expectation.expectation_type}"
                    f"({expectation.configuration.kwargs}) has no valid severity "
                    f"(meta: {(expectation.meta or {}).get('severity')!r}, GX: {native!r}); "
                    "wrap it in critical(...) or warning(...) from telco_dw.quality."
                )
        return built

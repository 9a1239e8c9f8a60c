"""GX suites proving personal data is masked past raw (``pii.<schema>.<model>``), one per dbt model
of staging, the marts and the snapshots, found from the dbt project's files.

- critical, every table: no row, read as text whole, holds a mobile number in any written form, an
  email, an 18-character ID number or a 15-digit IMSI/IMEI (``telco_dw.privacy.detect``'s
  ``LEAK_SQL_PATTERNS``, one check matching any of them: one read of the table, not one per kind,
  since reading a staging view recomputes it); the check selects no column, so a failure reports a
  count, never a value (`telco-dw privacy scan` then says which kind, where);
- critical, every ``*_token`` column: a 64-digit lowercase hex HMAC token, nothing else.

Their latest results are the masking evidence of the compliance report (``telco-dw privacy report``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from telco_dw import config
from telco_dw.privacy.detect import LEAK_SQL_PATTERNS
from telco_dw.quality.spec import SuiteSpec, critical

if TYPE_CHECKING:
    import great_expectations as gx

LAYERS = {"staging": ("staging", "stg_"), "marts": ("marts", "")}
"""Folder of ``models/`` -> (schema, model name prefix)."""


def _models() -> list[tuple[str, str, list[str]]]:
    """(schema, model, its *_token columns) of every model under the layers, from the SQL files, and
    of every snapshot, from its YAML (its SQL selects ``*``: the columns are listed there)."""
    project = config.load().dbt_project
    out = []
    for folder, (schema, prefix) in LAYERS.items():
        for path in sorted((project / "models" / folder).rglob("*.sql")):
            if path.stem.startswith(prefix) and not path.stem.startswith("_"):
                tokens = sorted(set(re.findall(r"\b(\w+_token)\b", path.read_text(encoding="utf-8"))))
                out.append((schema, path.stem, tokens))
    for path in sorted((project / "snapshots").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        tokens = sorted(set(re.findall(r"name: (\w+_token)\b", text)))
        out += [("snapshots", name, tokens) for name in re.findall(r"^  - name: (\w+)$", text, flags=re.M)]
    return out


def _suite(name: str, tokens: list[str]) -> gx.ExpectationSuite:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    kinds = [kind.replace("_", " ") for kind in LEAK_SQL_PATTERNS]
    any_kind = "|".join(f"({pattern})" for pattern in LEAK_SQL_PATTERNS.values())
    expectations = [
        critical(
            gxe.UnexpectedRowsExpectation(
                # GX fills {batch} in the query: the pattern's own braces are doubled to stay literal
                unexpected_rows_query="select 1 from (select * from {batch}) as t where t::text ~ '"
                + any_kind.replace("{", "{{").replace("}", "}}")
                + "'",
                description=f"no {', '.join(kinds[:-1])} or {kinds[-1]} in any value",
            )
        )
    ]
    expectations += [
        critical(gxe.ExpectColumnValuesToMatchRegex(column=column, regex="^[0-9a-f]{64}$")) for column in tokens
    ]
    return gx.ExpectationSuite(name=name, expectations=expectations)


def suites() -> list[SuiteSpec]:
    return [
        SuiteSpec(
            name=f"pii.{schema}.{model}",
            schema=schema,
            table=model,
            build=lambda name=f"pii.{schema}.{model}", tokens=tokens: _suite(name, tokens),  # type: ignore[misc]
            description=f"No personal value in {schema}.{model}; its tokens are HMAC tokens.",
        )
        for schema, model, tokens in _models()
    ]

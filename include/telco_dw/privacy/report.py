"""The compliance report: what personal data the warehouse holds, how each column is protected, and
the evidence that the protection held, as one static HTML page and the same in Markdown.

Sections: the PII catalogue (category, PIPL level, masking rule, retention); evidence from the last
run (a value scan of every schema past raw finds no personal value; no undeclared personal raw
column; the data-quality results of the PII suites when they ran); who can read what (the four
roles' privileges per schema); the retention and erasure log. Built from the warehouse as it is
now, by :func:`build`; it holds counts and names, never a personal value.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telco_dw.errors import UserError
from telco_dw.privacy import catalogue as catalogue_mod
from telco_dw.privacy.catalogue import MASKING_RULES, PersonalColumn
from telco_dw.privacy.roles import BUILT, RAW, ROLES

if TYPE_CHECKING:
    import psycopg

ANALYTICS_SCHEMAS = ("staging", "intermediate", "marts")
"""Schemas past raw: the scan evidence says none of them holds a personal value."""


@dataclass
class Evidence:
    title: str
    held: bool | None
    """True: the rule held; False: it did not; None: no evidence yet (the check has not run)."""
    detail: str


@dataclass
class Report:
    generated_at: datetime
    catalogue: list[PersonalColumn]
    evidence: list[Evidence] = field(default_factory=list)
    privileges: list[tuple[str, str, str]] = field(default_factory=list)
    """(role, schema, privileges) for the project's roles."""
    actions: list[tuple[Any, ...]] = field(default_factory=list)


def _privileges(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    out = []
    schemas = (*RAW, "quarantine", "audit", *BUILT, "privacy")
    for role in ROLES:
        if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            out.append((role, "(all)", "role not created: run `telco-dw privacy roles`"))
            continue
        for schema in schemas:
            row = conn.execute(
                "select has_schema_privilege(%s, n.oid, 'usage'), has_schema_privilege(%s, n.oid, 'create'), "
                "coalesce(bool_or(has_table_privilege(%s, c.oid, 'select')), false), "
                "coalesce(bool_or(has_table_privilege(%s, c.oid, 'insert')), false) "
                "from pg_namespace n left join pg_class c "
                "on c.relnamespace = n.oid and c.relkind in ('r', 'v', 'm', 'p') where n.nspname = %s group by n.oid",
                (role, role, role, role, schema),
            ).fetchone()
            if row is None or not row[0]:
                continue
            rights = [name for name, has in zip(("create", "select", "insert"), row[1:], strict=True) if has]
            out.append((role, schema, ", ".join(rights) or "usage only"))
    return out


def _evidence(conn: psycopg.Connection, dbt_project: Path, catalogue: list[PersonalColumn]) -> list[Evidence]:
    from telco_dw.privacy import scan

    out = []
    columns = scan.text_columns(conn, list(ANALYTICS_SCHEMAS))
    findings = scan.scan(conn, columns)
    out.append(
        Evidence(
            "No personal value past raw",
            not findings if columns else None,
            (
                f"{len(columns)} text columns of {', '.join(ANALYTICS_SCHEMAS)} read whole: "
                + ("no mobile number, email, ID number, IMSI, IMEI or bank card in any value"
                   if not findings else "; ".join(f"{f.where}: {f.values} values with a {f.kind}" for f in findings))
            )
            if columns
            else "no built tables yet: run the pipeline (make demo)",
        )
    )  # fmt: skip
    try:
        catalogue_mod.check(conn, dbt_project)
        out.append(Evidence("Every personal raw column declared", True, f"{len(catalogue)} columns in the catalogue; "
                            "no undeclared raw column looks personal by name or by sampled values"))  # fmt: skip
    except UserError as exc:
        out.append(Evidence("Every personal raw column declared", False, str(exc)))
    if conn.execute("select to_regclass('audit.dq_results')").fetchone()[0] is None:  # type: ignore[index]
        out.append(Evidence("Masking rules checked by the PII quality suites", None, "no quality results yet"))
    else:
        rows = conn.execute(
            "select suite, count(*), count(*) filter (where success), max(validated_at) from audit.dq_results "
            "where suite like 'pii.%%' and validated_at = (select max(validated_at) from audit.dq_results r "
            "where r.suite = dq_results.suite) group by suite order by suite"
        ).fetchall()
        if not rows:
            out.append(Evidence("Masking rules checked by the PII quality suites", None, "no PII suite has run yet"))
        for suite, total, passed, at in rows:
            out.append(Evidence(f"Quality suite {suite}", passed == total, f"{passed} of {total} checks passed ({at})"))
    return out


def build(conn: psycopg.Connection, dbt_project: Path) -> Report:
    """Gather the report from the warehouse (read-only)."""
    catalogue = catalogue_mod.load(dbt_project)
    actions: list[tuple[Any, ...]] = []
    if conn.execute("select to_regclass('audit.privacy_actions')").fetchone()[0] is not None:  # type: ignore[index]
        actions = conn.execute(
            "select action, coalesce(subject, ''), count(*), sum(rows_affected), max(acted_at) "
            "from audit.privacy_actions group by 1, 2 order by max(acted_at) desc limit 100"
        ).fetchall()
    return Report(
        generated_at=datetime.now(UTC),
        catalogue=catalogue,
        evidence=_evidence(conn, dbt_project, catalogue),
        privileges=_privileges(conn),
        actions=actions,
    )


def _tables(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table of the report, shared by both renderings."""
    verdict = {True: "held", False: "FAILED", None: "no evidence yet"}
    return [
        (
            "PII catalogue",
            ["column", "category", "PIPL level", "masking", "raw retention", "declared in"],
            [
                [c.qualified, c.category, c.level, f"{c.masking}: {MASKING_RULES[c.masking]}",
                 f"{c.retention_days} days from {'supersession' if c.retention_clock == 'superseded' else 'landing'}",
                 c.declared_in]
                for c in report.catalogue
            ],
        ),
        ("Evidence from the last run", ["rule", "verdict", "detail"],
         [[e.title, verdict[e.held], e.detail] for e in report.evidence]),
        ("Who can reach what", ["role", "schema", "privileges"], [list(p) for p in report.privileges]),
        (
            "Retention and erasure log",
            ["action", "subject", "runs", "rows affected", "last"],
            [[str(v) for v in row] for row in report.actions] or [["(none yet)", "", "", "", ""]],
        ),
    ]  # fmt: skip


def markdown(report: Report) -> str:
    lines = ["# telco-dw compliance report", "", f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.", ""]
    for title, header, rows in _tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:0 0 2rem}"
    "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}"
    "th{background:#f3f3f3}.held{color:#176f2c;font-weight:600}.FAILED{color:#b00020;font-weight:700}"
)


def html_page(report: Report) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>telco-dw compliance report</title>",
        f"<style>{_STYLE}</style></head><body><h1>telco-dw compliance report</h1>",
        f"<p>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC from the warehouse. Counts and names only: "
        "this page holds no personal value. Definitions: docs/privacy.md.</p>",
    ]
    for title, header, rows in _tables(report):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>")
        parts += [f"<th>{html.escape(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            cells = [f"<td class='{html.escape(c)}'>{html.escape(c)}</td>" for c in row]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def write(report: Report, folder: Path) -> tuple[Path, Path]:
    """``index.html`` and ``report.md`` in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    page, text = folder / "index.html", folder / "report.md"
    page.write_text(html_page(report), encoding="utf-8")
    text.write_text(markdown(report), encoding="utf-8")
    return page, text

"""The satisfaction dashboard: one static HTML page of inline SVG charts built from the marts.

It reads as role ``bi_reader`` (``set role`` on the connection it is given, read only), so it shows
exactly what a BI tool can see: schema ``marts`` and nothing before it. It holds aggregates only: no
row, identifier or token of a customer, so it is as small at a million customers as at a thousand,
and needs no script, font or stylesheet from elsewhere (it opens offline, from disk).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from telco_dw.errors import UserError
from telco_dw.report import svg
from telco_dw.report.panels import PANELS, Panel

if TYPE_CHECKING:
    import psycopg

ROLE = "bi_reader"


@dataclass(frozen=True)
class Dashboard:
    panels: list[Panel]
    role: str
    """The role the queries ran as (``current_user`` after ``set role``)."""
    as_of: date | None
    """The data's last day (dim_customers.as_of_date); None when the marts are empty."""
    generated_at: datetime


def _act_as_bi_reader(conn: psycopg.Connection) -> str:
    """Make the transaction on ``conn`` read only and act as ``bi_reader``; the role it now has."""
    import psycopg

    try:
        conn.execute("set transaction read only")
        conn.execute(f"set local role {ROLE}")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(
            f"the dashboard reads the marts as role {ROLE} and cannot act as it ({first}): "
            "run `telco-dw privacy roles`, and connect as a member of that role"
        ) from exc
    return str(conn.execute("select current_user").fetchone()[0])  # type: ignore[index]


def build(conn: psycopg.Connection) -> Dashboard:
    """Every panel, queried on ``conn`` in one read-only transaction as ``bi_reader``.

    Raises :class:`UserError` when the marts are missing or ``bi_reader`` may not read them.
    """
    import psycopg

    try:
        with conn.transaction():
            role = _act_as_bi_reader(conn)
            panels = [panel for builder in PANELS for panel in builder(conn)]
            as_of = conn.execute("select max(as_of_date) from marts.dim_customers").fetchone()[0]  # type: ignore[index]
    except psycopg.errors.UndefinedTable as exc:
        raise UserError(
            f"the marts are not built ({exc.diag.message_primary}): run the pipeline first (`make demo` or "
            "`telco-dw run`)"
        ) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise UserError(
            f"role {ROLE} may not read what the dashboard needs ({exc.diag.message_primary}), so BI tools "
            "cannot either: grant it with `telco-dw privacy roles`"
        ) from exc
    return Dashboard(panels, role, as_of, datetime.now(UTC))


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem auto;max-width:1240px;
padding:0 1rem;color:#222;background:#fafafa}
header p{color:#555;margin:.2rem 0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:1rem}
section.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem}
h2{font-size:1.05rem;margin:.2rem 0 .4rem}
p.definition{font-size:.8rem;color:#444;margin:.2rem 0 .5rem}
p.source{font-size:.75rem;color:#777;margin:.3rem 0 0}
svg.chart{width:100%;height:auto;font-size:11px}
svg.chart .grid{stroke:#e4e4e4}svg.chart .grid.zero{stroke:#888}
svg.chart .tick,svg.chart .category{fill:#555}svg.chart .value{fill:#333;font-size:10px}
svg.chart .line{stroke-width:2}
ul.legend{list-style:none;padding:0;margin:.3rem 0;font-size:.8rem;display:flex;flex-wrap:wrap;gap:.3rem 1rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-.1rem;border-radius:2px}
footer{margin-top:1rem;font-size:.8rem;color:#666}
"""


def html_page(dashboard: Dashboard) -> str:
    """The page: a header saying what and as whom, then one section per panel with its definition."""
    as_of = dashboard.as_of.isoformat() if dashboard.as_of else "no data yet"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>telco-dw satisfaction dashboard</title><style>{STYLE}</style></head><body>",
        "<header><h1>Customer satisfaction</h1>",
        f"<p>Data as of <strong>{html.escape(as_of)}</strong> · built {dashboard.generated_at:%Y-%m-%d %H:%M} UTC "
        f"· queried as role <code>{html.escape(dashboard.role)}</code>, which reads schema <code>marts</code> "
        "only (what a BI tool sees) · aggregates only, no customer-level data.</p>",
        "<p><a href='../index.html'>All documents</a></p></header><main>",
    ]
    for panel in dashboard.panels:
        sources = ", ".join(f"<code>{html.escape(s)}</code>" for s in panel.sources)
        parts += [
            f"<section class='panel' id='{panel.key}'><h2>{html.escape(panel.title)}</h2>",
            f"<p class='definition'><strong>Definition.</strong> {html.escape(panel.definition)}</p>",
            panel.chart,
            svg.legend(panel.series) if len(panel.series) > 1 else "",
            f"<p class='source'>Source: {sources}. Hover a mark for its value and count.</p></section>",
        ]
    parts.append(
        "</main><footer>Metric definitions: DOMAIN.md and the dbt semantic layer "
        "(<code>dbt_project/models/marts/_marts__metrics.yml</code>); see docs/reports.md.</footer></body></html>"
    )
    return "".join(parts)


def write(dashboard: Dashboard, folder: Path) -> Path:
    """``index.html`` in ``folder`` (created when missing); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "index.html"
    page.write_text(html_page(dashboard), encoding="utf-8")
    return page

"""The front page of the generated documents, ``$TELCO_DW_DOCS/index.html``: one place to start.

It links the satisfaction dashboard, the dbt docs, the quality Data Docs and the compliance report by
relative paths (copy the folder and the links still work) and shows the run's headline figures from
:func:`telco_dw.summary.collect`. A document not generated yet is named with the command that makes it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from telco_dw import sources
from telco_dw.summary import PipelineSummary

DOCUMENTS = (  # (path under TELCO_DW_DOCS, title, what it is, the command that writes it)
    ("dashboard/index.html", "Satisfaction dashboard",
     "NPS and CSAT by month and region, NPS by network experience, complaint SLA and FCR, churn, RFM; "
     "read from the marts as role bi_reader", "telco-dw report"),
    ("dbt/static_index.html", "dbt docs",
     "every model, column, test and the lineage from sources to marts", "telco-dw docs"),
    ("quality/index.html", "Data quality (Great Expectations Data Docs)",
     "the raw, PII and mart suites' latest validations", "telco-dw run"),
    ("compliance/index.html", "Compliance report",
     "the PII catalogue, the evidence that masking held, who can read what, retention and erasure log",
     "telco-dw privacy report"),
)  # fmt: skip

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem;
color:#222}
ul.documents{padding-left:1.2rem}ul.documents li{margin:.4rem 0}
.missing{color:#888}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}td.n{text-align:right}
.failed{color:#b00020;font-weight:bold}.passed{color:#1b7f3b;font-weight:bold}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if c.replace(',', '').isdigit() else ''}>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def html_page(docs: Path, summary: PipelineSummary, generated_at: datetime) -> str:
    """The page for the documents now in ``docs`` and the run ``summary``."""
    links = []
    for path, title, what, command in DOCUMENTS:
        if (docs / path).exists():
            links.append(f"<li><a href='{path}'>{html.escape(title)}</a> — {html.escape(what)}</li>")
        else:
            links.append(
                f"<li class='missing'>{html.escape(title)} — not generated yet: run "
                f"<code>{html.escape(command)}</code></li>"
            )
    landed = [
        (source, f"{summary.landed.get(source, 0):,}", f"{summary.quarantined.get(source, 0):,}")
        for source in sources.SOURCES
    ]
    landed.append(("all", f"{sum(summary.landed.values()):,}", f"{sum(summary.quarantined.values()):,}"))
    marts = [(name, f"{rows:,}") for name, rows in summary.marts.items()]
    if summary.checks_run_id is None:
        checks = "<p class='missing'>No quality validation has run yet.</p>"
    else:
        verdict = (
            "<span class='passed'>all passed</span>"
            if summary.checks_failed == 0
            else f"<span class='failed'>{summary.checks_failed} failed</span>"
        )
        checks = (
            f"<p>Quality checks of the latest validation run (<code>{html.escape(summary.checks_run_id)}</code>): "
            f"{summary.checks_passed} passed, {summary.checks_failed} failed — {verdict}.</p>"
        )
    if summary.published_run_id and summary.published_at:
        checks += (
            f"<p>Marts published by run <code>{html.escape(summary.published_run_id)}</code> at "
            f"{summary.published_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC (write-audit-publish).</p>"
        )
    if summary.latest_build and summary.latest_build[1] != "published":
        run, state, reason = summary.latest_build
        checks += (
            f"<p class='failed'>Latest build (run {html.escape(run)}) {html.escape(state)}, not published: "
            f"{html.escape(reason or 'in progress or failed')}</p>"
        )
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>telco-dw documents</title><style>{STYLE}</style></head><body>",
            "<h1>telco-dw: customer-satisfaction warehouse</h1>",
            f"<p>Generated {generated_at:%Y-%m-%d %H:%M} UTC from the warehouse as it was then.</p>",
            f"<h2>Documents</h2><ul class='documents'>{''.join(links)}</ul>",
            "<h2>Headline figures</h2>",
            checks,
            f"<h3>Landed ({summary.batches:,} batches)</h3>",
            _table(("source", "rows landed", "rows quarantined"), landed),
            "<h3>Marts</h3>",
            _table(("mart", "rows"), marts) if marts else "<p class='missing'>no marts built yet</p>",
            "</body></html>",
        ]
    )


def write(docs: Path, summary: PipelineSummary) -> Path:
    """``index.html`` in ``docs`` linking what is there; its path."""
    docs.mkdir(parents=True, exist_ok=True)
    page = docs / "index.html"
    page.write_text(html_page(docs, summary, datetime.now(UTC)), encoding="utf-8")
    return page

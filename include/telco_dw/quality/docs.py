"""The quality evidence as a static site people can read without running anything.

``$TELCO_DW_DOCS/quality/`` holds:

- ``gx/``: Great Expectations' own Data Docs (every suite, every validation run), updated by each
  validation (:mod:`.runner` runs through a checkpoint whose results are kept under
  ``$TELCO_DW_HOME/gx``). GX's pages load Bootstrap, jQuery and Vega from CDNs and a logo from
  GX's servers; :func:`publish` removes those from the pages a run wrote, so opening them offline
  makes no network request (they read as plain HTML tables);
- ``index.html``: the project's own front page for it: every declared suite, its table and
  description, its latest run with counts and verdict from ``audit.dq_results``, linking GX's page
  of the suite and of its latest validation. No script, no external resource.

With ``QUALITY_DOCS_URL`` set, :func:`publish` also copies the site to that fsspec URL (object
storage, a shared folder), so reviewers read it where production keeps its evidence.

Validation results hold counts only (see :mod:`.results`), so neither page shows a row value.
"""

from __future__ import annotations

import html
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

    from telco_dw.config import Config

_EXTERNAL = re.compile(
    r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>|<(?:link|img)[^>]*\b(?:href|src)=[\"']https?://[^>]*>",
    re.IGNORECASE,
)
_EXTERNAL_CSS = re.compile(r"url\(\s*[\"']?https?://[^)]*\)", re.IGNORECASE)


def site(cfg: Config) -> Path:
    return cfg.docs / "quality"


def gx_site(cfg: Config) -> Path:
    return site(cfg) / "gx"


_PASSED = ".offline"
"""A file under the GX site whose mtime is when the last complete :func:`offline` pass began."""


def offline(folder: Path, since: datetime | None = None) -> int:
    """Strip remote scripts, stylesheets, images and CSS ``url()``s from the HTML and CSS files under
    ``folder``: opened offline, they request nothing. With ``since``, only the files changed since
    then or since the last complete pass began, whichever is earlier: a run that wrote pages and
    never got to its own pass (killed, failed) leaves none behind. Returns the files changed."""
    began = time.time()
    marker = folder / _PASSED
    cutoff = 0.0
    if since is not None:
        cutoff = min(since.timestamp(), marker.stat().st_mtime if marker.exists() else 0.0) - 1
    changed = 0
    for page in (*folder.rglob("*.html"), *folder.rglob("*.css")):
        if page.stat().st_mtime < cutoff:
            continue
        text = page.read_text(encoding="utf-8")
        stripped = _EXTERNAL_CSS.sub("none", _EXTERNAL.sub("", text))
        if stripped != text:
            page.write_text(stripped, encoding="utf-8")
            changed += 1
    marker.touch()
    os.utime(marker, (began, began))
    return changed


def _latest_validation(root: Path, suite: str) -> Path | None:
    folder = root / "validations" / Path(*suite.split("."))
    pages = sorted(folder.rglob("*.html"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return pages[-1] if pages else None


def write_index(conn: psycopg.Connection, cfg: Config) -> Path:
    """``index.html`` of the quality site: every declared suite with its latest run."""
    from telco_dw.quality.registry import all_suites

    root, gx_root = site(cfg), gx_site(cfg)
    latest = {
        row[0]: row[1:]
        for row in conn.execute(
            "select distinct on (suite) suite, run_id, validated_at, count(*) over w, "
            "count(*) filter (where success) over w, "
            "count(*) filter (where not success and severity = 'critical') over w, "
            "count(*) filter (where not success and severity = 'warning') over w "
            "from audit.dq_results window w as (partition by suite, run_id, validated_at) "
            "order by suite, validated_at desc"
        )
    } if conn.execute("select to_regclass('audit.dq_results')").fetchone()[0] else {}  # type: ignore[index]  # fmt: skip
    rows = []
    for spec in all_suites():
        run = latest.get(spec.name)
        suite_page = gx_root / "expectations" / Path(*spec.name.split(".")).with_suffix(".html")
        validation = _latest_validation(gx_root, spec.name)
        links = []
        if suite_page.exists():
            links.append(f"<a href='{html.escape(str(suite_page.relative_to(root)))}'>checks</a>")
        if validation is not None:
            links.append(f"<a href='{html.escape(str(validation.relative_to(root)))}'>latest validation</a>")
        if run is None:
            verdict, detail = "not run yet", ""
        else:
            run_id, at, total, passed, critical, warnings = run
            verdict = "failed" if critical else "passed with warnings" if warnings else "passed"
            detail = (f"{passed} of {total} passed, {critical} critical and {warnings} warning failures; "
                      f"run {run_id}, {at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        rows.append(
            f"<tr><td>{html.escape(spec.name)}</td><td>{html.escape(spec.qualified_table)}</td>"
            f"<td class='{verdict.split()[0]}'>{verdict}</td><td>{html.escape(detail)}</td>"
            f"<td>{' · '.join(links)}</td><td>{html.escape(spec.description)}</td></tr>"
        )
    root.mkdir(parents=True, exist_ok=True)
    page = root / "index.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>telco-dw data quality</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top;font-size:.9rem}"
        "th{background:#f3f3f3}.passed{color:#176f2c}.failed{color:#b00020;font-weight:700}.not{color:#777}"
        "</style></head><body><h1>telco-dw data quality</h1><p>Every suite of <code>expectations/</code>, its "
        "latest validation (from <code>audit.dq_results</code>: counts only, never a row value) and Great "
        "Expectations' own pages. Severities and checks: docs/quality.md.</p><table><tr><th>suite</th>"
        "<th>table</th><th>verdict</th><th>latest run</th><th>pages</th><th>what it checks</th></tr>"
        + "".join(rows)
        + "</table></body></html>",
        encoding="utf-8",
    )
    return page


def publish(conn: psycopg.Connection, cfg: Config, since: datetime | None = None) -> Path:
    """After a validation: GX's pages made offline, the index rewritten, the site mirrored to
    ``QUALITY_DOCS_URL`` when set. Returns the local index's path."""
    gx_root = gx_site(cfg)
    if gx_root.is_dir():
        offline(gx_root, since)
    page = write_index(conn, cfg)
    if cfg.quality_docs_url:
        mirror(site(cfg), cfg.quality_docs_url)
    return page


def _shown(url: str) -> str:
    """``url`` without a password, for logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def mirror(folder: Path, url: str) -> int:
    """Copy every file of ``folder`` that ``url`` (fsspec) lacks or holds with another size, and the
    index pages (rewritten on every run). Returns the number of files copied.

    A failure is logged, not raised: the evidence is in ``audit.dq_results`` and the local site, and
    a storage outage must not fail a quality gate; the next validation copies what was missed.
    """
    import logging

    import fsspec

    log = logging.getLogger(__name__)
    try:
        fs, root = fsspec.core.url_to_fs(url)
        remote = (
            {path[len(root.rstrip("/")) + 1 :]: info.get("size") for path, info in fs.find(root, detail=True).items()}
            if fs.exists(root)
            else {}
        )
        copied = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if remote.get(name) != path.stat().st_size or path.name == "index.html":
                fs.makedirs(f"{root.rstrip('/')}/{path.parent.relative_to(folder).as_posix()}", exist_ok=True)
                fs.put_file(str(path), f"{root.rstrip('/')}/{name}")
                copied += 1
    except Exception as exc:  # any filesystem's error: see the docstring
        log.error("quality Data Docs not copied to %s: %s (the local site is %s)", _shown(url), exc, folder)
        return 0
    log.info("quality Data Docs: %d files copied to %s", copied, _shown(url))
    return copied

"""The satisfaction dashboard and the front page, in a real browser: built from marts of a landed
simulated world (two months), read as bi_reader, opened from disk by headless Chromium: every chart
draws its marks, nothing is logged as an error, no request leaves the machine; screenshots are kept
under ``.local/test/<worker>/artifacts`` (``.local/test/artifacts`` without pytest-xdist)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from devtools import Chromium

from telco_dw import summary
from telco_dw.errors import UserError
from telco_dw.privacy import report, roles, tokens
from telco_dw.quality import results
from telco_dw.report import dashboard, front_page
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.transform import dbt
from telco_dw.warehouse import publish

pytestmark = pytest.mark.e2e

START = date(2026, 10, 20)
END = START + timedelta(days=20)  # into November: the trend has two months
WORLD = SimConfig(customers=300, days=20, start=START, seed=29)
RUN_ID = "test_report"
PANELS = {
    "nps-trend", "csat-trend", "nps-by-network", "complaints-by-channel", "churn-by-tenure", "lifecycle-stages",
    "rfm-sizes", "rfm-satisfaction",
}  # fmt: skip

RENDERED = """
[...document.querySelectorAll('section.panel')].map(panel => ({
    id: panel.id,
    definition: panel.querySelector('p.definition').textContent,
    marks: panel.querySelectorAll('svg.chart .mark').length,
    drawn: [...panel.querySelectorAll('svg.chart .mark')].filter(mark => {
        const box = mark.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
    }).length,
}))
"""
LINKS = "[...document.querySelectorAll('a[href]')].map(a => a.href)"


@pytest.fixture(scope="module")
def built(warehouse, landed_world, tmp_path_factory):
    """The world landed, the token key held, the roles granted, the models built and published into
    ``marts``. Their tests and the quality gate are other modules' subject (test_warehouse_truth):
    here the candidate is published with an empty gate, which keeps this module quick."""
    outbox = tmp_path_factory.mktemp("report_outbox")
    generate(outbox, WORLD)
    with landed_world("telco_dw_report_test", outbox, END, tmp_path_factory.mktemp("report_landing")) as url:
        with psycopg.connect(url) as conn, conn.transaction():  # what the transform DAG's prepare_privacy does
            tokens.install(conn, tokens.key(warehouse))
            roles.apply(conn)
            publish.begin(conn, RUN_ID)
        dbt.run(["run"], url)
        with psycopg.connect(url) as conn, conn.transaction():
            conn.execute(results.DQ_RESULTS_DDL)  # where publish looks for evidence: none is asked for here
            publish.publish(conn, RUN_ID, gate=())
        yield url


@pytest.fixture(scope="module")
def docs(built, cfg, tmp_path_factory) -> Path:
    """A documents folder as `make demo` leaves it, less the dbt docs and Data Docs (not generated here)."""
    folder = tmp_path_factory.mktemp("report_docs")
    with psycopg.connect(built) as conn:
        dashboard.write(dashboard.build(conn), folder / "dashboard")
        report.write(report.build(conn, cfg.dbt_project), folder / "compliance")
        front_page.write(folder, summary.collect(conn))
    return folder


def test_the_dashboard_reads_as_bi_reader_and_states_every_definition(built):
    with psycopg.connect(built) as conn:
        board = dashboard.build(conn)
        assert conn.execute("select current_user").fetchone()[0] != "bi_reader"  # the role ended with the report
    assert board.role == "bi_reader"
    assert {p.key for p in board.panels} == PANELS
    assert board.as_of == END - timedelta(days=1)
    page = dashboard.html_page(board)
    assert "queried as role <code>bi_reader</code>" in page
    for panel in board.panels:
        assert len(panel.definition) > 60, panel.key
    trend = next(p for p in board.panels if p.key == "nps-trend")
    assert [s.name for s in trend.series][-1] == "all regions" and len(trend.series[-1].values) == 2


def test_the_report_fails_clearly_when_bi_reader_may_not_read_a_mart(built):
    with psycopg.connect(built, autocommit=True) as conn:
        conn.execute("revoke select on marts.fct_complaints from bi_reader")
        try:
            with pytest.raises(UserError, match=r"role bi_reader may not read .*fct_complaints"):
                dashboard.build(conn)
        finally:
            conn.execute("grant select on marts.fct_complaints to bi_reader")


def test_the_dashboard_holds_aggregates_only_no_personal_value_and_no_token(built, docs):
    page = (docs / "dashboard" / "index.html").read_text(encoding="utf-8")
    with psycopg.connect(built) as conn:
        personal = [
            value
            for row in conn.execute("select customer_id, full_name, mobile, email, id_card_no from raw_crm.customers")
            for value in row
            if value
        ]
    assert len(personal) > 1000
    assert [value for value in personal if value in page] == []
    assert re.search(r"\b[0-9a-f]{64}\b", page) is None  # no token
    assert len(page) < 150_000  # a few dozen numbers per chart, whatever the customer count


def test_the_front_page_and_the_dashboard_render_offline_in_chromium(chromium, docs, cfg, tmp_path):
    artifacts = cfg.home / "artifacts"
    with Chromium(chromium, tmp_path / "profile") as browser:
        front = browser.visit((docs / "index.html").as_uri())
        links = browser.evaluate(LINKS)
        text = browser.evaluate("document.body.innerText")
        browser.screenshot(artifacts / "front_page.png")

        board = browser.visit((docs / "dashboard" / "index.html").as_uri())
        panels = browser.evaluate(RENDERED)
        browser.screenshot(artifacts / "dashboard.png")

    for visit in (front, board):
        assert visit.errors == []
        assert visit.requests and all(url.startswith("file://") for url in visit.requests), visit.requests
    assert {(docs / "dashboard/index.html").as_uri(), (docs / "compliance/index.html").as_uri()} <= set(links)
    assert all(Path(link.removeprefix("file://")).exists() for link in links if link.startswith("file://"))
    assert "dbt docs — not generated yet: run telco-dw docs" in text
    assert "marts.dim_customers" in text and "rows landed" in text
    assert "No quality validation has run yet." in text and f"Marts published by run {RUN_ID} at" in text
    assert {p["id"] for p in panels} == PANELS
    for panel in panels:
        assert panel["marks"] > 0 and panel["drawn"] == panel["marks"], panel
        assert panel["definition"].startswith("Definition."), panel
    assert (artifacts / "dashboard.png").stat().st_size > 20_000

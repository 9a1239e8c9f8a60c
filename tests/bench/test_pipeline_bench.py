"""How the pipeline's cost grows with the data (issues 8, 5 and 7). `make bench` only.

At each scale of ``BENCH_SCALES`` (default 10k and 100k customers; ``BENCH_SCALES=10k,100k,1m`` adds
1M, which takes well over 30 minutes on 2 cores) x ``BENCH_DAYS`` days (default 30), one world is
simulated with one day more than the window, then, each stage in a fresh interpreter
(``benchlib.measure``, the functions of ``pipeline.py``):

1. ``generate``: the simulator writes the outbox (the window and the extra day);
2. ``serve``: the simulated sources as they stand at the window's end (billing OLTP rows applied,
   network and survey files delivered): the outside world, not the pipeline;
3. ``land``: every source landed (``tests/worlds.py``, the ``landed_world`` fixture's code path: the
   ingest tasks' ``land_source``; the CRM API simulator runs in the same process);
4. ``build full``: the production ``dbt build`` (models, snapshot, data tests; not the unit tests:
   ``dbt.PRODUCTION_ENV``) into ``marts_candidate`` on the fresh warehouse (write-audit-publish,
   docs/quality.md);
5. ``validate GX``: the mart suites (``marts.*``) on the candidate through the project's GX runner;
6. ``validate SQL``: the same checks as one SQL query per table, derived from the suites
   (``pipeline.suite_sql``); both must agree on every check;
7. ``publish``: the PII suites, then the candidate swapped into ``marts``;
8. ``serve +1 day``, ``land +1 day``, ``build incremental``: one more day delivered, landed and built
   into the candidate (its incremental facts seeded from the published ones, as the transform does).

Recorded (``bench/results/<date>.json`` and ``.md``), per stage: wall time, rows/s and seconds per
million rows (rows: the rows the simulator wrote for ``generate``, the rows the loader read for the
extra day for the ``+1 day`` stages, the rows the loader read for the window, "source rows", for every
other stage, the incremental build included), peak RSS of the stage's interpreter, of its largest
child process (dbt) and of the PostgreSQL server, and the server's autovacuum meanwhile
(worker-seconds and CPU seconds: maintenance that competed with the stage; these last two, the
embedded server only, sampled). Then dbt's full vs incremental build (goal: incremental <= 15 % of
full) with the slowest models and data tests of each build from ``run_results.json``, GX vs SQL
(goal: <= 3x), and the cost per million source rows of each stage at each scale over the scale
before (linear scaling: about 1.0). See docs/performance.md.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from benchlib import forget, label, measure, record, scales

pytestmark = pytest.mark.bench

DAYS = int(os.environ.get("BENCH_DAYS") or "30")
DATABASE = "telco_dw_bench_pipeline"
INCREMENTAL_GOAL = 0.15
GX_GOAL = 3.0
TOP_MODELS = 10
HERE = Path(__file__).resolve().parent

COVERS = {
    "generate": "the simulator (one process)",
    "serve": "the source simulators: billing OLTP upserts (client side), file copies",
    "land": "the loader and the in-process CRM API simulator (one process)",
    "build": "children = dbt (one process, 2 threads); own = the Python driving it",
    "validate GX": "GX in the project's runner (evidence stored, Data Docs rebuilt)",
    "validate SQL": "a psycopg client; the work is the server's",
    "publish": "GX (the PII suites) and the swap's transaction",
}
CODE = """
import json, logging, os, pipeline
logging.basicConfig(level=logging.INFO, format="%(message)s")  # to stderr: a failed stage shows its end
print(json.dumps(getattr(pipeline, os.environ["BENCH_STAGE"])(**json.loads(os.environ["BENCH_ARGS"]))))
"""

COSTS: dict[int, dict[str, float]] = {}
"""Seconds per million rows (see the module docstring), by scale and stage, for the scaling test."""


@pytest.fixture(scope="module")
def server_pid(warehouse) -> int | None:
    """The embedded PostgreSQL's postmaster, whose memory is sampled; None for an external server."""
    from telco_dw.warehouse import embedded

    return embedded.status(warehouse).pid if warehouse.embedded else None


def _recreate(warehouse, *names: str, drop_only: bool = False) -> None:
    from telco_dw.warehouse.connection import connect

    with connect(warehouse, "postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')
            if not drop_only:
                conn.execute(f'create database "{name}"')


class Run:
    """One scale's stages: runs each in a child interpreter and keeps its figures."""

    def __init__(self, customers: int, scratch: Path, server_pid: int | None) -> None:
        self.customers = customers
        self.name = f"{label(customers)}×{DAYS}d"
        self.server_pid = server_pid
        self.env = {
            "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
            "DBT_TARGET_PATH": str(scratch / "dbt" / "target"),  # run_results.json of this run only
        }
        self.stages: dict[str, dict[str, Any]] = {}

    def stage(self, stage: str, function: str, **args: Any) -> dict[str, Any]:
        env = {**self.env, "BENCH_STAGE": function, "BENCH_ARGS": json.dumps(args)}
        figures = measure(CODE, env, split_rss=True, server_pid=self.server_pid)
        self.stages[stage] = figures
        return figures


@pytest.mark.timeout(6 * 3600)  # pyproject's 900 s is for tests: a 1M run takes hours on 2 cores
@pytest.mark.parametrize("customers", scales(), ids=label)
def test_pipeline_cost(customers, warehouse, server_pid, tmp_path_factory):
    from datetime import date

    import psycopg

    from telco_dw.privacy import roles, tokens
    from telco_dw.simulate.world import SimConfig
    from telco_dw.warehouse.connection import warehouse_url

    scratch = tmp_path_factory.mktemp(f"pipeline_{label(customers)}")
    outbox, landing = scratch / "outbox", scratch / "landing"
    start: date = SimConfig().start
    end, extra = start + timedelta(days=DAYS), start + timedelta(days=DAYS + 1)
    names = (DATABASE, f"{DATABASE}_billing")
    _recreate(warehouse, *names)
    url, billing_url = warehouse_url(warehouse, names[0]), warehouse_url(warehouse, names[1])
    run = Run(customers, scratch, server_pid)
    began = time.monotonic()
    try:
        run.stage("generate", "generate", out=str(outbox), customers=customers, days=DAYS + 1)
        world = {"outbox": str(outbox), "billing_url": billing_url, "landing": str(landing)}
        run.stage("serve", "serve", end=end.isoformat(), **world)
        landed = run.stage("land", "land", url=url, end=end.isoformat(), **world)
        with psycopg.connect(url) as conn, conn.transaction():  # what the transform DAG's prepare_privacy does
            tokens.install(conn, tokens.key(warehouse))
            roles.apply(conn)
        run.stage("dbt parse", "parse", url=url)  # not recorded: both builds then start from a parsed project
        full = run.stage("build full", "build", url=url, run_id=f"bench/{run.name}/full")
        gx = run.stage("validate GX", "validate", url=url, run_id=f"bench/{run.name}/full")
        sql = run.stage("validate SQL", "validate_sql", url=url)
        run.stage("publish", "publish", url=url, run_id=f"bench/{run.name}/full")
        run.stage("serve +1 day", "serve", end=extra.isoformat(), **world)
        day = run.stage("land +1 day", "land", url=url, end=extra.isoformat(), **world)
        incremental = run.stage("build incremental", "build", url=url, run_id=f"bench/{run.name}/incremental")
    finally:
        _recreate(warehouse, *names, drop_only=True)
    shutil.rmtree(scratch, ignore_errors=True)  # kept after a failure: dbt's log is in dbt/logs
    total = time.monotonic() - began

    source_rows = int(landed["rows"])
    _record_stages(run, source_rows, int(day["rows"]))
    record(
        f"pipeline {run.name} end to end",
        {"seconds": round(total, 1), "rows": source_rows, "rows_per_s": round(source_rows / total)},
    )
    ratio = _record_dbt(run, full, incremental)
    gx_ratio = _record_gx(run, gx, sql)
    assert gx["success"] == sql["success"], "the SQL checks do not agree with GX: fix pipeline.check_sql"
    assert landed["rows_landed"] > 0 and day["rows"] > 0
    # the goals are recorded with goal_met, not asserted: the figures are read from the tables
    print(f"{run.name}: incremental/full {ratio}, GX/SQL {gx_ratio}")


def _record_stages(run: Run, source_rows: int, day_rows: int) -> None:
    costs = {}
    for stage, figures in run.stages.items():
        if stage == "dbt parse":
            continue
        work = float(figures["work_s"])
        rows = int(figures["rows"]) if stage == "generate" else day_rows if "+1 day" in stage else source_rows
        cost = round(work / (rows / 1e6), 2)
        costs[stage] = cost
        entry = {
            "seconds": figures["seconds"],
            "work_s": work,
            "rows": rows,
            "rows_per_s": round(rows / work) if work else None,
            "s_per_m_rows": cost,
            "peak_rss_mb": figures["own_peak_rss_mb"],
            "children_peak_rss_mb": figures["children_peak_rss_mb"] or None,
            "pg_peak_rss_mb": figures.get("pg_peak_rss_mb"),
            # the server's own maintenance beside the stage (benchlib.ServerSampler)
            "autovacuum_s": figures.get("autovacuum_s"),
            "autovacuum_cpu_s": figures.get("autovacuum_cpu_s"),
            "covers": COVERS.get(stage.removesuffix(" +1 day").removesuffix(" full").removesuffix(" incremental"), ""),
        }
        if stage == "validate GX":
            entry["import_s"] = figures["import_s"]
        if stage == "publish":  # the PII suites, the swap, the candidate's facts brought up for the next build
            entry.update({k: figures[k] for k in ("pii_suites_s", "swap_s", "prepare_s")})
        if stage.startswith("land"):
            entry.update(quarantined=figures["rows_quarantined"], batches=figures["batches"])
        record(f"pipeline {run.name} {len(costs):02d} {stage}", entry)
    COSTS[run.customers] = costs


def _record_dbt(run: Run, full: dict[str, Any], incremental: dict[str, Any]) -> float:
    ratio = round(float(incremental["work_s"]) / float(full["work_s"]), 3)
    record(
        f"dbt {run.name} full vs incremental build",
        {
            "full_s": full["work_s"],
            "incremental_s": incremental["work_s"],
            "incremental_over_full": ratio,
            "incremental_begin_s": incremental["begin_s"],
            "full_node_s": full["dbt_node_s"],
            "incremental_node_s": incremental["dbt_node_s"],
            "goal": f"incremental_over_full <= {INCREMENTAL_GOAL}",
            "goal_met": ratio <= INCREMENTAL_GOAL,
        },
    )
    for family in ("dbt-models", "dbt-tests", "dbt-incremental", "dbt-incremental-tests"):
        forget(f"{family} {run.name} #")  # the ranks below replace an earlier run's, whole
    later = {n["node"]: n for n in incremental["dbt_nodes"]}
    for rank, node in enumerate(full["dbt_nodes"][:TOP_MODELS], start=1):
        again = later.get(node["node"], {})
        record(
            f"dbt-models {run.name} #{rank:02d} {node['node']}",
            {
                "kind": node["kind"],
                "full_s": node["seconds"],
                "full_share": round(node["seconds"] / sum(n["seconds"] for n in full["dbt_nodes"]), 3),
                "full_rows": node["rows_affected"],
                "incremental_s": again.get("seconds"),
                "incremental_rows": again.get("rows_affected"),
            },
        )
    later_tests = {t["node"]: t["seconds"] for t in incremental.get("dbt_tests", [])}
    for rank, test in enumerate(full.get("dbt_tests", [])[:TOP_MODELS], start=1):
        record(
            f"dbt-tests {run.name} #{rank:02d} {test['node']}",
            {"full_s": test["seconds"], "incremental_s": later_tests.get(test["node"])},
        )
    # the incremental build's own slowest models and tests: what stands between it and the goal
    earlier = {n["node"]: n for n in full["dbt_nodes"]}
    for rank, node in enumerate(incremental["dbt_nodes"][:TOP_MODELS], start=1):
        record(
            f"dbt-incremental {run.name} #{rank:02d} {node['node']}",
            {
                "kind": node["kind"],
                "incremental_s": node["seconds"],
                "incremental_share": round(node["seconds"] / sum(n["seconds"] for n in incremental["dbt_nodes"]), 3),
                "incremental_rows": node["rows_affected"],
                "full_s": earlier.get(node["node"], {}).get("seconds"),
            },
        )
    earlier_tests = {t["node"]: t["seconds"] for t in full.get("dbt_tests", [])}
    for rank, test in enumerate(incremental.get("dbt_tests", [])[:TOP_MODELS], start=1):
        record(
            f"dbt-incremental-tests {run.name} #{rank:02d} {test['node']}",
            {"incremental_s": test["seconds"], "full_s": earlier_tests.get(test["node"])},
        )
    return ratio


def _record_gx(run: Run, gx: dict[str, Any], sql: dict[str, Any]) -> float:
    for suite, seconds in gx["suite_alone_s"].items():
        sql_s = sql["suite_s"][suite]
        record(
            f"gx-vs-sql {run.name} {suite}",
            {
                "gx_alone_s": seconds,
                "sql_s": sql_s,
                "gx_alone_over_sql": round(seconds / sql_s, 1) if sql_s else None,
                "checks": len(gx["success"][suite]),
                "failed_checks": gx["success"][suite].count(False),
            },
        )
    ratio = round(float(gx["work_s"]) / float(sql["work_s"]), 1)
    record(
        f"gx-vs-sql {run.name} all mart suites",
        {
            "gx_s": gx["work_s"],
            "gx_import_s": gx["import_s"],
            "sql_s": sql["work_s"],
            "gx_over_sql": ratio,
            "checks": sum(len(v) for v in gx["success"].values()),
            "failed_checks": sum(v.count(False) for v in gx["success"].values()),
            "goal": f"gx_over_sql <= {GX_GOAL}",
            "goal_met": ratio <= GX_GOAL,
        },
    )
    return ratio


def test_cost_per_million_rows_stays_flat():
    """Each stage's seconds per million rows at a scale over the scale before it (1.0: linear)."""
    if len(COSTS) < 2:
        pytest.skip("needs two scales of test_pipeline_cost in this session (BENCH_SCALES)")
    for small, large in itertools.pairwise(sorted(COSTS)):
        pair = f"{label(large)}/{label(small)}"
        for n, stage in enumerate(COSTS[large], start=1):
            before, after = COSTS[small].get(stage), COSTS[large][stage]
            record(
                f"scaling {pair} {n:02d} {stage}",
                {
                    "s_per_m_rows_small": before,
                    "s_per_m_rows_large": after,
                    "ratio": round(after / before, 2) if before else None,
                    "goal": "ratio about 1.0 (linear)",
                },
            )

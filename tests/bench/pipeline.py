"""The pipeline benchmark's stages, one function each, run in a child interpreter by
``test_pipeline_bench.py`` (``benchlib.measure``: wall time, peak RSS). Each returns a JSON-able dict.

They call the code the pipeline runs: the simulator, ``tests/worlds.py`` (the ``landed_world``
fixture's way of serving and landing a world without Airflow), then write-audit-publish as the
transform DAG does it (``telco_dw.transform.rebuild``'s steps, one stage each): :func:`build`
(``publish.begin``, ``dbt build`` into ``marts_candidate``), :func:`validate` (the mart suites on the
candidate through the quality gate, as the DAG runs them, against :func:`validate_sql`), :func:`publish` (the
PII suites, then the swap into ``marts``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

MART_SUITES = "marts.*"
"""The suites the transform DAG's gate validates (``validate_marts``)."""


def generate(out: str, customers: int, days: int) -> dict[str, Any]:
    """Simulate ``customers`` x ``days`` into the outbox ``out``."""
    from telco_dw.simulate.world import SimConfig, generate

    started = time.monotonic()
    manifest = generate(Path(out), SimConfig(customers=customers, days=days))
    return {
        "rows": sum(f["rows"] for f in manifest.files.values()),
        "mb": round(sum(f["bytes"] for f in manifest.files.values()) / 1e6, 1),
        "work_s": round(time.monotonic() - started, 2),
    }


def serve(outbox: str, billing_url: str, landing: str, end: str) -> dict[str, Any]:
    """The simulated sources as they stand at ``end``: billing OLTP rows applied, files delivered."""
    from worlds import serve

    started = time.monotonic()
    serve(Path(outbox), billing_url, Path(landing), date.fromisoformat(end))
    return {"work_s": round(time.monotonic() - started, 2)}


def land(url: str, billing_url: str, outbox: str, landing: str, end: str) -> dict[str, Any]:
    """Land every source through ``end`` (what the four ingest DAGs' load tasks run)."""
    from worlds import land

    started = time.monotonic()
    results = land(url, billing_url, Path(outbox), date.fromisoformat(end), Path(landing), crm_as_of_end=True)
    seconds = time.monotonic() - started
    by_source: Counter[str] = Counter()
    batch_seconds: Counter[str] = Counter()
    for result in results:
        source = result.table.split(".")[0].removeprefix("raw_")
        by_source[source] += result.rows_read
        batch_seconds[source] += result.seconds
    return {
        "rows": sum(r.rows_read for r in results),
        "rows_landed": sum(r.rows_landed for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "batches": len(results),
        "rows_by_source": dict(by_source),
        "batch_s_by_source": {k: round(v, 2) for k, v in batch_seconds.items()},
        "work_s": round(seconds, 2),
    }


def build(url: str, run_id: str) -> dict[str, Any]:
    """``publish.begin`` (seeds the candidate's incremental facts from the published ones when the
    publish before did not: the first build) and the production ``dbt build`` (every model, snapshot
    and data test; not the unit tests: ``dbt.PRODUCTION_ENV``) into ``marts_candidate``; figures from
    dbt's ``run_results.json``, and ``begin_s``, the part of ``work_s`` spent in ``publish.begin``."""
    import psycopg

    from telco_dw import config
    from telco_dw.transform import dbt, manifest
    from telco_dw.warehouse import publish

    incremental = manifest.incremental_marts(manifest.checked(config.load()))
    started = time.monotonic()
    with psycopg.connect(url) as conn, conn.transaction():
        publish.begin(conn, run_id, incremental)
    begun = time.monotonic()
    dbt.run(["build"], url, production=True)
    return {"work_s": round(time.monotonic() - started, 2), "begin_s": round(begun - started, 2), **run_results()}


def _mart_specs() -> list[Any]:
    from telco_dw.quality import gate
    from telco_dw.warehouse import publish

    return gate.select(MART_SUITES, publish.CANDIDATE_SCHEMAS)


def validate(url: str, run_id: str) -> dict[str, Any]:
    """The mart suites on the candidate as the transform DAG's ``validate_marts`` runs them
    (``gate.validate``: one GX context and checkpoint, evidence in ``audit.dq_results``, the quality
    site rewritten once), Great Expectations imported first and timed apart. Then, for the per-suite
    breakdown only (not in ``work_s``), each suite alone through ``run_suite`` (``suite_alone_s``:
    its queries plus the whole fixed cost of a validation)."""
    started = time.monotonic()
    import great_expectations  # noqa: F401  - the import (about 10 s) is not the validation

    from telco_dw.quality import gate, run_suite

    imported = time.monotonic()
    specs = _mart_specs()
    outcome = gate.validate(url, specs, run_id)
    work_s = time.monotonic() - imported
    alone = {}
    for spec in specs:
        began = time.monotonic()
        run_suite(url, spec, f"{run_id}/alone", publish_docs=False)
        alone[spec.name] = round(time.monotonic() - began, 2)
    return {
        "import_s": round(imported - started, 2),
        "work_s": round(work_s, 2),
        "suite_alone_s": alone,
        "success": {o.suite: [r.success for r in o.results] for o in outcome.outcomes},
    }


def publish(url: str, run_id: str) -> dict[str, Any]:
    """The rest of the gate (the PII suites of staging, the candidate marts and the snapshots), then
    the swap of the candidate into ``marts``: refused (raising) unless every gate suite passed; then,
    as the transform DAG's publish task does, the candidate's incremental facts brought up to the
    published ones for the next build (``publish.prepare_next_build``; after a full build, a copy of
    each, vacuumed): ``prepare_s``, apart from ``swap_s``."""
    started = time.monotonic()
    import great_expectations  # noqa: F401

    from telco_dw import config
    from telco_dw.quality import gate
    from telco_dw.transform import manifest
    from telco_dw.warehouse import publish as wap

    imported = time.monotonic()
    pii = gate.validate(url, gate.select("pii.*", wap.CANDIDATE_SCHEMAS), run_id)
    validated = time.monotonic()
    done = wap.publish_or_refuse(url, run_id, gate.select(wap.GATE_SUITES, wap.CANDIDATE_SCHEMAS))
    swapped = time.monotonic()
    wap.prepare_next_build(url, run_id, manifest.incremental_marts(manifest.checked(config.load())))  # timed apart
    return {
        "import_s": round(imported - started, 2),
        "work_s": round(time.monotonic() - imported, 2),
        "pii_suites_s": round(validated - imported, 2),
        "swap_s": round(swapped - validated, 2),
        "prepare_s": round(time.monotonic() - swapped, 2),
        "pii_passed": pii.passed,
        "tables": done.tables,
    }


def validate_sql(url: str) -> dict[str, Any]:
    """The same checks as :func:`validate`, as one SQL query per table (``suite_sql``), through psycopg."""
    import psycopg

    queries = {spec.name: suite_sql(spec) for spec in _mart_specs()}  # building the GX objects is not timed
    per_suite, success = {}, {}
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for name, query in queries.items():
            began = time.monotonic()
            row = conn.execute(query).fetchone()
            per_suite[name] = round(time.monotonic() - began, 3)
            success[name] = [bool(v) for v in row or ()]
    return {"work_s": round(time.monotonic() - started, 3), "suite_s": per_suite, "success": success}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def check_sql(kind: str, kwargs: dict[str, Any], schema: str, table: str) -> str:
    """One GX expectation as a boolean SQL expression over ``schema.table`` (true: it passes), with
    GX's meaning: nulls are not checked by range, set and uniqueness expectations; ``mostly`` is 1.

    Raises ``NotImplementedError`` for an expectation type not translated yet: add it here.
    """
    if kwargs.get("mostly", 1) != 1:
        raise NotImplementedError(f"{kind}: mostly={kwargs['mostly']}")
    column = f'"{kwargs["column"]}"' if "column" in kwargs else None
    if kind == "expect_table_row_count_to_be_between":
        bounds = [f"count(*) >= {kwargs['min_value']}"] if kwargs.get("min_value") is not None else []
        bounds += [f"count(*) <= {kwargs['max_value']}"] if kwargs.get("max_value") is not None else []
        return " and ".join(bounds) or "true"
    if kind == "expect_table_columns_to_match_set":
        wanted = "array[" + ", ".join(_literal(c) for c in kwargs["column_set"]) + "]::text[]"
        actual = (
            "(select array_agg(column_name::text) from information_schema.columns "
            f"where table_schema = {_literal(schema)} and table_name = {_literal(table)})"
        )
        exact = kwargs.get("exact_match", True)
        return f"{actual} @> {wanted}" + (f" and {wanted} @> {actual}" if exact else "")
    if kind == "expect_column_values_to_not_be_null":
        return f"count(*) filter (where {column} is null) = 0"
    if kind == "expect_column_values_to_be_unique":
        return f"count({column}) = count(distinct {column})"
    if kind == "expect_column_values_to_be_between":
        if kwargs.get("strict_min") or kwargs.get("strict_max"):
            raise NotImplementedError(f"{kind}: strict bounds")
        outside = [f"{column} < {kwargs['min_value']}"] if kwargs.get("min_value") is not None else []
        outside += [f"{column} > {kwargs['max_value']}"] if kwargs.get("max_value") is not None else []
        return f"count(*) filter (where {' or '.join(outside) or 'false'}) = 0"
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_literal(v) for v in kwargs["value_set"])
        return f"count(*) filter (where {column} not in ({values})) = 0"
    if kind == "unexpected_rows_expectation":
        query = kwargs["unexpected_rows_query"].replace("{batch}", f"{schema}.{table}")
        return f"not exists ({query})"
    raise NotImplementedError(kind)


def suite_sql(spec: Any) -> str:
    """The suite of ``spec`` (a ``SuiteSpec``) as one query on its table: one boolean column per
    expectation, in suite order."""
    checks = [
        check_sql(e.expectation_type, dict(e.configuration.kwargs), spec.schema, spec.table)
        for e in spec.suite().expectations
    ]
    columns = ",\n    ".join(f"({check}) as check_{n}" for n, check in enumerate(checks, start=1))
    return f"select\n    {columns}\nfrom {spec.schema}.{spec.table}"


def run_results() -> dict[str, Any]:
    """dbt's ``run_results.json`` (schema v6) of the last command: wall time, seconds by kind of node,
    every model and snapshot and every data test by execution time, slowest first."""
    from telco_dw import config

    results = json.loads((config.load().dbt_target / "run_results.json").read_text(encoding="utf-8"))
    by_kind: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    nodes, tests = [], []
    for result in results["results"]:
        kind = result["unique_id"].split(".")[0]
        by_kind[kind] += result["execution_time"]
        statuses[result["status"]] += 1
        if kind == "test":
            tests.append({"node": result["unique_id"].split(".")[2], "seconds": round(result["execution_time"], 2)})
        if kind in ("model", "snapshot"):
            nodes.append(
                {
                    "node": result["unique_id"].split(".")[-1],
                    "kind": kind,
                    "seconds": round(result["execution_time"], 2),
                    "rows_affected": (result.get("adapter_response") or {}).get("rows_affected"),
                    "status": result["status"],
                }
            )
    nodes.sort(key=lambda n: -n["seconds"])
    tests.sort(key=lambda n: -n["seconds"])
    return {
        "dbt_elapsed_s": round(results["elapsed_time"], 2),
        "dbt_node_s": {k: round(v, 2) for k, v in by_kind.items()},
        "dbt_statuses": dict(statuses),
        "dbt_nodes": nodes,
        "dbt_tests": tests,
    }


def parse(url: str) -> dict[str, Any]:
    """``dbt parse`` into the benchmark's target folder, so both timed builds start from the same
    partial-parse state (not a stage: not recorded), and the manifest the transform reads (which
    marts are incremental) is written with its fingerprint."""
    from telco_dw import config
    from telco_dw.transform import dbt, manifest

    started = time.monotonic()
    dbt.run(["parse"], url)
    manifest.build(config.load(), url)
    return {"work_s": round(time.monotonic() - started, 2)}

"""The dbt project: its conventions, read from the manifest, and real builds against PostgreSQL.

Manifest tests run ``dbt parse`` (no database connection) once per module. Build tests (marked
``integration``) use a database of their own on the test server, ``telco_dw_dbt_test``, created with
the raw tables of ``telco_dw.load.ddl`` and dropped afterwards: ``dbt build`` with a few hand-written
raw rows (versions, ties, churn, NPS boundaries, orphans, personal sentinels), then with every raw
table empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from telco_dw import config, sources
from telco_dw.load import ddl
from telco_dw.privacy import catalogue, roles, tokens

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
TEST_DATABASE = "telco_dw_dbt_test"
METADATA_COLUMNS = [name for name, _ in ddl.METADATA_COLUMNS]

# Personal columns of the raw contract (DOMAIN.md, PIPL): declared `personal` in the sources YAML and
# never carried into staging or beyond.
PERSONAL = {
    "raw_crm.customers": {"full_name", "birth_date", "id_card_no", "mobile", "email", "address"},
    "raw_crm.subscriptions": {"msisdn"},
    "raw_billing.accounts": {"bank_card_no"},
    "raw_network.subscriber_experience_daily": {"msisdn", "imsi", "imei", "serving_cell_id"},
    "raw_survey.responses": {"msisdn", "comment"},
}
PERSONAL_NAMES = set().union(*PERSONAL.values())
LAYERS = {  # folder: (name prefixes, materialization, schema)
    "staging": (("stg_",), "table", "staging"),
    "intermediate": (("int_",), "table", "intermediate"),
    "marts": (("dim_", "fct_"), "table", "marts_candidate"),  # dbt writes the candidate; publish swaps it in
}
# Sub-folders whose materialization differs from their layer's (set per folder in dbt_project.yml).
FOLDER_MATERIALIZATIONS = {("marts", "network"): "incremental"}
# Models whose materialization differs from their folder's (set per model in dbt_project.yml).
MODEL_MATERIALIZATIONS = {
    "stg_network__cell_kpi_hourly": "incremental",
    "stg_network__subscriber_experience_daily": "incremental",
    "int_subscriber_days_aggregated_to_customers": "incremental",
    "int_customer_weeks_experienced": "incremental",
    "stg_billing__invoices": "incremental",
    "stg_billing__invoice_lines": "incremental",
    "stg_billing__accounts": "incremental",
    "stg_survey__responses": "incremental",
    "stg_billing__payments": "incremental",
    "int_invoices_paid": "incremental",
    "int_customer_months_billed": "incremental",
    "int_customer_months_spined": "incremental",
    "stg_crm__subscriptions": "incremental",
    "int_billing_aggregated_to_customers": "incremental",
    "int_subscriptions_aggregated_to_customers": "incremental",
    "int_survey_responses_aggregated_to_customers": "incremental",
}
KEY_MERGED = {
    "stg_crm__subscriptions": "subscription_id",
    "stg_billing__accounts": "account_id",
    "stg_survey__responses": "answer_id",
    "stg_billing__invoices": "invoice_id",
    "stg_billing__invoice_lines": "invoice_line_id",
    "stg_billing__payments": "payment_id",
    "int_invoices_paid": "invoice_id",
}
"""Incremental models merged by key from the rows landed since (macros/latest_version.sql), not by a
window of days: billing's staging and the CRM's subscriptions, by source key, and the invoices with
their payments."""
CUSTOMER_MONTHS = {
    "int_customer_months_spined": {"stg_crm__customers", "stg_crm__subscriptions"},
    "int_customer_months_billed": {
        "stg_crm__customers",
        "stg_crm__subscriptions",
        "stg_billing__accounts",
        "int_invoices_paid",
    },
}
"""Incremental models whose runs delete and append again the months observed since and the months of
the customers with a change landed since in the upstreams named, or newly in service
(macros/customer_months.sql)."""
CUSTOMER_KEYED = {
    "int_billing_aggregated_to_customers": {"stg_billing__accounts", "int_invoices_paid"},
    "int_subscriptions_aggregated_to_customers": {"stg_crm__subscriptions"},
    "int_survey_responses_aggregated_to_customers": {"stg_survey__responses"},
}
"""Incremental models, one row per customer, whose runs delete and append again the rows of the
customers with a change landed since in the upstreams named (macros/changed_customers.sql)."""
ROW_RULED = {
    "stg_crm__customers": "staging",
    "stg_crm__tickets": "staging",
    "stg_survey__responses": "staging",
    "int_customer_months_spined": "intermediate",
    "int_customers_rfm_scored": "intermediate",
    "int_tickets_timed": "intermediate",
    "dim_customers": "marts_candidate",
    "fct_billing_monthly": "marts_candidate",
    "fct_complaints": "marts_candidate",
    "fct_satisfaction_monthly": "marts_candidate",
    "fct_survey_responses": "marts_candidate",
}
"""Models rebuilt in full on every run (or appended to: the spine) whose row rules (not null, accepted
values, ranges) are constraints the warehouse checks in one pass after the build, or on every row
appended (macros/row_rules.sql), not data tests that each read the whole table again; by schema,
where a build writes them."""
ROW_RULE_TESTS = {"not_null", "accepted_values", "in_range"}


# --- manifest -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("dbt")
    env = dict(os.environ)
    env.update(  # parse renders profiles.yml but connects to nothing
        TELCO_DW_DB_HOST="127.0.0.1",
        TELCO_DW_DB_PORT="5432",
        TELCO_DW_DB_USER="nobody",
        TELCO_DW_DB_NAME="nowhere",
        DBT_TARGET_PATH=str(out / "target"),
        DBT_LOG_PATH=str(out / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
    )
    proc = subprocess.run(
        [str(DBT), "parse", "--profiles-dir", ".", "--no-partial-parse", "--warn-error"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"dbt parse failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    return json.loads((out / "target" / "manifest.json").read_text())


def _models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def _column_tests(manifest: dict[str, Any], model_id: str) -> dict[str, set[str]]:
    """Generic test names per column of one model."""
    tests: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node") == model_id and node.get("column_name"):
            tests.setdefault(node["column_name"], set()).add(node["test_metadata"]["name"])
    return tests


def test_parse_writes_nothing_into_the_project(manifest: dict[str, Any]) -> None:
    assert not (PROJECT / "target").exists()
    assert not (PROJECT / "logs").exists()


def test_every_model_and_column_is_described(manifest: dict[str, Any]) -> None:
    missing = []
    for node in [*_models(manifest), *manifest["sources"].values()]:
        if not node["description"].strip():
            missing.append(node["unique_id"])
        missing += [f"{node['unique_id']}.{c}" for c, col in node["columns"].items() if not col["description"].strip()]
        if node["resource_type"] == "model" and not node["columns"]:
            missing.append(f"{node['unique_id']} (no columns documented)")
    assert not missing, f"undocumented: {missing}"


def test_every_model_has_a_unique_not_null_key_first(manifest: dict[str, Any]) -> None:
    """Every model's first column is its key, tested `not_null`. A model that builds its table in
    full, appends to it or merges into it by key holds the key by a unique index (`key_index()` on
    every table, `unique_index()`, `key_merged_indexes()`), PostgreSQL refusing a repeated key as it
    writes the rows, and tests that the index is there (`unique_by_index`); a model merging a window
    of days tests it `unique` (on the days it merged). The snapshot's version key likewise."""
    for model in _models(manifest):
        key = next(iter(model["columns"]))
        tests = _column_tests(manifest, model["unique_id"]).get(key, set())
        appended = model["config"].get("incremental_strategy") == "append"
        indexed = appended or model["name"] in KEY_MERGED or model["config"]["materialized"] == "table"
        unique = "unique_by_index" if indexed else "unique"
        assert {unique, "not_null"} <= tests, f"{model['name']}.{key} lacks {unique} + not_null"
        hooks = " ".join(hook["sql"] for hook in model["config"]["post-hook"])
        if appended:
            assert f"unique_index('{key}'" in hooks, f"{model['name']}: no unique_index() on {key}"
        elif model["name"] in KEY_MERGED:
            assert "{{ key_merged_indexes() }}" in hooks, f"{model['name']}: no key_merged_indexes()"
        elif indexed:
            assert "{{ key_index() }}" in hooks, f"{model['name']}: no key_index()"
    (snapshot,) = [n for n in manifest["nodes"].values() if n["resource_type"] == "snapshot"]
    assert {"unique_by_index", "not_null"} <= _column_tests(manifest, snapshot["unique_id"])["dbt_scd_id"]
    assert "unique_index('dbt_scd_id'" in " ".join(hook["sql"] for hook in snapshot["config"]["post-hook"])


def test_layers_set_name_materialization_and_schema_per_folder(manifest: dict[str, Any]) -> None:
    for model in _models(manifest):
        layer = model["fqn"][1]
        prefixes, materialized, schema = LAYERS[layer]
        materialized = FOLDER_MATERIALIZATIONS.get((layer, model["fqn"][2]), materialized)
        materialized = MODEL_MATERIALIZATIONS.get(model["name"], materialized)
        assert model["name"].startswith(prefixes), model["name"]
        assert (model["config"]["materialized"], model["schema"]) == (materialized, schema), model["name"]
        if layer == "staging":
            source = model["fqn"][2]
            assert model["name"].startswith(f"stg_{source}__"), model["name"]
            assert model["depends_on"]["nodes"] and all(
                n.startswith(f"source.telco_dw.raw_{source}.") for n in model["depends_on"]["nodes"]
            ), f"{model['name']} reads only its own source"
        else:
            assert not any(n.startswith("source.") for n in model["depends_on"]["nodes"]), (
                f"{model['name']}: source() belongs in staging"
            )


def test_models_rebuilt_in_full_enforce_their_row_rules_as_constraints(manifest: dict[str, Any]) -> None:
    """A model of `ROW_RULED` declares its row rules as constraints (`not_null`, `check`), which the
    `row_rules()` post-hook adds to the built table; its data tests are the key's (unique, not null:
    the convention above), relationships and rules across rows, never a row rule a constraint
    checks already. No other model declares a constraint (only a table rebuilt whole, appended to or
    merged by key is checked)."""
    for model in _models(manifest):
        columns, name = model["columns"], model["name"]
        constrained = [c for col in columns.values() for c in col["constraints"]]
        assert bool(constrained) == (name in ROW_RULED), name
        if name not in ROW_RULED:
            continue
        materialized = (model["config"]["materialized"], model["config"].get("incremental_strategy"))
        assert materialized[0] == "table" or materialized in {("incremental", "append"), ("incremental", "merge")}, name
        assert {c["type"] for c in constrained} <= {"not_null", "check"}, name
        assert "{{ row_rules() }}" in [hook["sql"] for hook in model["config"]["post-hook"]], name
        key = next(iter(columns))
        for column, tests in _column_tests(manifest, model["unique_id"]).items():
            rules = tests & ROW_RULE_TESTS - ({"not_null"} if column == key else set())
            assert not rules, f"{name}.{column}: {rules} as data tests (declare them as constraints)"


def test_incremental_models_merge_and_test_a_window_of_days(manifest: dict[str, Any]) -> None:
    """Every incremental model but those merged by key (`KEY_MERGED`), the customer-months
    (`CUSTOMER_MONTHS`) and the customer-keyed models (`CUSTOMER_KEYED`), tested below, merges a
    window of days (macros/merge_window.sql) on a date column it has, indexed and recorded after a
    full build by post-hooks; one that reads raw reads the rows landed since its last run; and every
    data test attached to it reads that window on an incremental run."""
    incremental = [m for m in _models(manifest) if m["config"]["materialized"] == "incremental"]
    declared = {name for name, kind in MODEL_MATERIALIZATIONS.items() if kind == "incremental"}
    assert {m["name"] for m in incremental} >= declared
    incremental = [m for m in incremental if m["name"] not in (*KEY_MERGED, *CUSTOMER_MONTHS, *CUSTOMER_KEYED)]
    for model in incremental:
        config_, name = model["config"], model["name"]
        column = config_["meta"].get("merge_window_column")
        assert config_["incremental_strategy"] == "merge_window" and column in model["columns"], name
        hooks = [hook["sql"] for hook in config_["post-hook"]]
        assert any("merge_window_index()" in hook for hook in hooks), f"{name}: no index on {column}"
        assert any("merge_window_record()" in hook for hook in hooks), f"{name}: no record of a full build"
        reads_raw = any(dep.startswith("source.") for dep in model["depends_on"]["nodes"])
        assert ("merge_window_new_rows(" in model["raw_code"]) == reads_raw, name
        assert reads_raw or "merge_window_start(" in model["raw_code"], name
        tests = [n for n in manifest["nodes"].values() if n.get("attached_node") == model["unique_id"]]
        assert tests, name
        assert all(t["config"]["where"] == "__merged__" for t in tests), name


def test_customer_months_delete_and_append_their_scope_and_record_what_they_read(
    manifest: dict[str, Any],
) -> None:
    """The customer-months delete the rows of their scope (a pre-hook) and append them again; they
    record the latest `_loaded_at` of each upstream their scope reads the changes of, and the first
    observed month and the data's last day (after `merge_window_record()`), follow the customers
    newly in service, and index the month through which a run finds the latest it holds, and their
    key (unique: PostgreSQL refuses an appended row that repeats a kept one). Their data tests read
    the whole table."""
    nodes = manifest["nodes"]
    for model in _models(manifest):
        if model["name"] not in CUSTOMER_MONTHS:
            continue
        config_, name, reads = model["config"], model["name"], CUSTOMER_MONTHS[model["name"]]
        assert config_["meta"]["changed_customers_in_service"] is True, name
        assert config_["incremental_strategy"] == "append", name
        assert [h["sql"] for h in config_["pre-hook"]] == ["{{ customer_months_delete_scope() }}"], name
        hooks = [hook["sql"] for hook in config_["post-hook"]]
        recorded = [
            "{{ merge_window_index() }}",
            "{{ unique_index('customer_month_id', 'key') }}",
            "{{ merge_window_record() }}",
            "{{ customer_months_record() }}",
        ]
        assert hooks[-4:] == recorded, name
        assert config_["meta"]["merge_window_column"] == "month_start_date", name
        assert set(config_["meta"]["merge_window_reads"]) == reads, name
        assert "changed_customers_ctes(" in model["raw_code"], name
        assert "customer_months_scope(" in model["raw_code"] or "customer_months_first_rebuilt(" in model["raw_code"], (
            name
        )
        upstream = {nodes[n]["name"] for n in model["depends_on"]["nodes"] if n in nodes}
        assert upstream >= reads | {"snap_crm__subscriptions"}, f"{name} does not wait for {reads - upstream}"
        tests = [n for n in nodes.values() if n.get("attached_node") == model["unique_id"]]
        assert tests and not any(t["config"]["where"] for t in tests), name


def test_customer_keyed_models_delete_and_append_the_changed_customers(manifest: dict[str, Any]) -> None:
    """A customer-keyed model deletes its rows of the changed customers (a pre-hook) and appends
    them again, records what it read of each upstream whose changes it follows, and indexes the
    customer through which the pre-hook deletes."""
    nodes = manifest["nodes"]
    for model in _models(manifest):
        if model["name"] not in CUSTOMER_KEYED:
            continue
        config_, name, reads = model["config"], model["name"], CUSTOMER_KEYED[model["name"]]
        assert config_["incremental_strategy"] == "append", name
        assert [h["sql"] for h in config_["pre-hook"]] == ["{{ changed_customers_delete() }}"], name
        hooks = [hook["sql"] for hook in config_["post-hook"]]
        assert hooks[-2:] == ["{{ unique_index('customer_id', 'customer') }}", "{{ merge_window_record() }}"], name
        assert set(config_["meta"]["merge_window_reads"]) == reads, name
        assert "changed_customers_ctes(" in model["raw_code"] and "changed_customers_scope(" in model["raw_code"], name
        upstream = {nodes[n]["name"] for n in model["depends_on"]["nodes"] if n in nodes}
        assert upstream >= reads, f"{name} does not wait for {reads - upstream}"


def test_models_merged_by_key_read_what_landed_since_and_follow_what_privacy_nulls(
    manifest: dict[str, Any],
) -> None:
    """Models merged by key (macros/latest_version.sql) read the rows landed since, found through a
    unique index on the key; they record where they read from, and their data tests read the rows
    they merged. Staging keeps each key's latest version against the row it holds. Privacy nulls raw
    values in place, which a run reading only the rows landed since would not see: a staging model
    that carries a personal column of its source (through `pii()`) has a partial index on the rows
    privacy nulled (`ddl.NULLED_IN_PLACE`), keeps each row's landed row (`_batch_id`, `_row_number`)
    and a post-hook that reads those; one that carries none (the accounts: the bank card number is
    not staged) has nothing to follow. The billing models they feed read only such staging."""
    personal = {(c.schema, c.table) for c in catalogue.load(PROJECT)}
    nodes = manifest["nodes"]
    for model in _models(manifest):
        if model["name"] not in KEY_MERGED:
            continue
        config_, name = model["config"], model["name"]
        assert (config_["incremental_strategy"], config_["unique_key"]) == ("merge", KEY_MERGED[name]), name
        assert any("key_merged_indexes()" in hook["sql"] for hook in config_["post-hook"]), name
        assert any("landed_since_record()" in hook["sql"] for hook in config_["pre-hook"]), name
        assert "landed_since_kept(" in model["raw_code"], name
        tests = [n for n in nodes.values() if n.get("attached_node") == model["unique_id"]]
        assert tests and all(t["config"]["where"] == "__merged__" for t in tests), name
        if model["fqn"][1] != "staging":
            upstream = {nodes[n]["name"] for n in model["depends_on"]["nodes"]}
            assert upstream <= set(KEY_MERGED), f"{name} reads {upstream - set(KEY_MERGED)}, not merged by key"
            continue
        assert f"latest_of_landed_and_kept('renamed', '{KEY_MERGED[name]}'" in model["raw_code"], name
        (source,) = model["depends_on"]["nodes"]  # source.telco_dw.<schema>.<table>
        schema, table = source.split(".")[2:]
        if (schema, table) in personal and f"pii('{schema}', '{table}'" in model["raw_code"]:
            column = ddl.NULLED_IN_PLACE.get((schema, table))
            assert column, f"{name}: its source {schema}.{table} has personal columns and no nulled index"
            hooks = " ".join(hook["sql"] for hook in config_["post-hook"])
            assert f"nulled_in_raw('{column}')" in hooks, f"{name} does not follow what privacy nulls"
            assert {"_batch_id", "_row_number"} <= set(model["columns"]), name


def test_sources_declare_the_landed_tables_exactly(manifest: dict[str, Any]) -> None:
    declared = {t.qualified: t for s in sources.SOURCES for t in sources.tables(s)}
    documented = {f"{s['schema']}.{s['name']}": s for s in manifest["sources"].values()}
    assert documented.keys() == declared.keys()
    for name, table in declared.items():
        source = documented[name]
        assert list(source["columns"]) == [*table.column_names, *METADATA_COLUMNS], name
        assert source["loaded_at_field"] == "_loaded_at", name
        assert source["freshness"]["warn_after"]["count"], f"{name} has no freshness threshold"


def test_personal_columns_are_declared_and_not_staged(manifest: dict[str, Any]) -> None:
    documented = {f"{s['schema']}.{s['name']}": s for s in manifest["sources"].values()}
    for name, source in documented.items():
        flagged = {c for c, col in source["columns"].items() if col["config"]["meta"].get("personal")}
        assert flagged == PERSONAL.get(name, set()), name
    for model in _models(manifest):
        assert not PERSONAL_NAMES & set(model["columns"]), f"{model['name']} documents a personal column"


def test_domain_rules_have_unit_tests(manifest: dict[str, Any]) -> None:
    unit_tests = {u["name"]: u for u in manifest["unit_tests"].values()}
    nps = unit_tests["int_survey_responses_scored_nps_category_boundaries"]
    expected = {(r["answer_id"], r["nps_category"]) for r in nps["expect"]["rows"]}
    assert {("r6", "detractor"), ("r7", "passive"), ("r8", "passive"), ("r9", "promoter")} <= expected
    assert {u["model"] for u in unit_tests.values()} >= {
        "stg_crm__customers",
        "int_survey_responses_scored",
        "int_subscriptions_aggregated_to_customers",
        "dim_customers",
    }
    # DOMAIN.md rules with fixed inputs: RFM quintiles, churn month, CLV, SLA at exactly 24 h / 48 h
    assert {
        "int_customers_rfm_scored_quintiles",
        "int_customer_months_spined_churn_month_and_active_days",
        "int_customer_months_billed_invoices_payments_and_months",
        "int_customers_valued_arpu_and_clv",
        "int_tickets_timed_sla_at_exactly_24_and_48_hours",
        "int_network_experience_aggregated_to_customers_bins_and_window",
        "dim_customers_lifecycle_decline_signals",
    } <= set(unit_tests)
    rfm = unit_tests["int_customers_rfm_scored_quintiles"]["expect"]["rows"]
    assert [r["monetary_score"] for r in rfm] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    sla = {r["ticket_id"]: r for r in unit_tests["int_tickets_timed_sla_at_exactly_24_and_48_hours"]["expect"]["rows"]}
    assert (sla["T_exact"]["met_24h_response"], sla["T_exact"]["met_48h_resolution"]) == (True, True)
    assert (sla["T_late"]["met_24h_response"], sla["T_late"]["met_48h_resolution"]) == (False, False)
    # revenue counts in the calendar month of billing_month (a sign-up's first bill, mid-month)
    billed = unit_tests["int_customer_months_billed_invoices_payments_and_months"]["expect"]["rows"]
    assert {r["customer_month_id"]: r["revenue_excl_tax"] for r in billed}["C2|2026-10"] == "50.00"


def test_semantic_layer_defines_the_domain_metrics(manifest: dict[str, Any]) -> None:
    """dbt parse (the fixture, with --warn-error) has validated them; here: the set is complete."""
    metrics = {m["name"]: m for m in manifest["metrics"].values()}
    assert {
        "nps", "csat", "ces", "churn_rate", "voluntary_churn_rate", "involuntary_churn_rate", "arpu",
        "sla_24h_response_rate", "sla_48h_resolution_rate", "fcr_rate",
    } <= set(metrics)  # fmt: skip
    assert metrics["churn_rate"]["type_params"]["numerator"]["name"] == "customers_churned"
    assert metrics["churn_rate"]["type_params"]["denominator"]["name"] == "customers_active_at_month_start"
    assert metrics["arpu"]["type_params"]["denominator"]["name"] == "subscriber_months"
    semantic = {s["name"]: s["node_relation"]["alias"] for s in manifest["semantic_models"].values()}
    assert semantic == {
        "satisfaction_monthly": "fct_satisfaction_monthly",
        "billing_monthly": "fct_billing_monthly",
        "customers": "dim_customers",
    }
    spines = [n for n in _models(manifest) if n.get("time_spine")]
    assert [(n["name"], n["time_spine"]["standard_granularity_column"]) for n in spines] == [
        ("dim_dates", "calendar_date")
    ]
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert "model.telco_dw.fct_satisfaction_monthly" in exposures["satisfaction_dashboard"]["depends_on"]["nodes"]
    assert "model.telco_dw.dim_customers" in exposures["bi_customer_360"]["depends_on"]["nodes"]


def test_subscriptions_are_snapshotted_scd2(manifest: dict[str, Any]) -> None:
    snapshots = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "snapshot"}
    config = snapshots["snap_crm__subscriptions"]["config"]
    assert (config["strategy"], config["unique_key"], config["updated_at"]) == (
        "timestamp",
        "subscription_id",
        "updated_at",
    )
    assert snapshots["snap_crm__subscriptions"]["schema"] == "snapshots"
    assert config["hard_deletes"] == "ignore"  # so a run may read the subscriptions staged since its last
    assert "where {{ landed_since_kept() }}" in snapshots["snap_crm__subscriptions"]["raw_code"]
    assert [hook["sql"] for hook in config["post-hook"]] == [
        "{{ loaded_at_index() }}",  # its latest, not a scan
        "{{ unique_index('dbt_scd_id', 'key') }}",  # the key its test checks (unique_by_index)
    ]


# --- builds against PostgreSQL ------------------------------------------------------------------

SCRATCH_ROWS = """
insert into raw_crm.customers values
 ('C1','张三丰','M','1990-05-01','110101199005010011','13800138001','zhang@example.cn','广东','深圳','科技路1号',
  '2024-01-10 08:00+00','2024-01-10 08:00+00','b1','2026-10-01','f1',1),
 ('C1','张三丰','M','1990-05-01','110101199005010011','13800138001','zhang@example.cn','广东','广州','科技路2号',
  '2024-01-10 08:00+00','2026-09-01 08:00+00','b2','2026-10-02','f2',1),
 ('C2','李四','F','2010-03-01',null,null,null,'北京','北京',null,
  '2025-06-30 23:30+00','2025-06-30 23:30+00','b1','2026-10-01','f1',2),
 ('C3','王五',null,null,null,null,null,'上海','上海',null,
  '2023-02-01 00:00+00','2023-02-01 00:00+00','b1','2026-10-01','f1',3);
insert into raw_crm.subscriptions values
 ('S1','C1','13800138001','P59','畅享59元套餐',59,12,'active','2024-01-10 08:00+00',null,null,
  '2024-01-10 08:00+00','b1','2026-10-01','f1',1),
 ('S1','C1','13800138001','P99','5G畅享99元套餐',99,24,'active','2024-01-10 08:00+00',null,null,
  '2026-05-01 08:00+00','b2','2026-10-02','f2',1),
 ('S2','C2','13800138002','P19','畅享19元套餐',19,0,'churned','2025-07-01 00:00+00','2026-03-05 00:00+00',
  'involuntary','2026-03-05 00:00+00','b1','2026-10-01','f1',2),
 ('S3','C3','13800138003','P19','畅享19元套餐',19,0,'suspended','2023-02-01 00:00+00',null,null,
  '2023-02-01 00:00+00','b1','2026-10-01','f1',3),
 ('S4','C3','13800138004','P199','5G尊享199元套餐',199,24,'churned','2024-02-01 00:00+00','2025-02-01 00:00+00',
  'voluntary','2025-02-01 00:00+00','b1','2026-10-01','f1',4);
insert into raw_crm.tickets values
 ('T1','C1','hotline','network','2026-09-01 10:00+00',null,null,1,'open',
  '2026-09-01 10:00+00','b1','2026-10-01','f1',1),
 ('T1','C1','hotline','network','2026-09-01 10:00+00','2026-09-01 12:00+00','2026-09-02 09:00+00',2,'resolved',
  '2026-09-02 09:00+00','b2','2026-10-02','f2',1),
 ('T2','C1','app','billing','2026-09-10 10:00+00',null,null,1,'open','2026-09-10 10:00+00','b2','2026-10-02','f2',2),
 ('T3','C404','web','service','2026-09-10 10:00+00',null,null,1,'open','2026-09-10 10:00+00','b2','2026-10-02','f2',3);
insert into raw_billing.accounts values
 ('A1','C1','alipay','6222020200112233','2024-01-10 08:00+00','2024-01-10 08:00+00','b1','2026-10-01','f1',1),
 ('A2','C2','bank_card','6222020200445566','2025-07-01 00:00+00','2025-07-01 00:00+00','b1','2026-10-01','f1',2);
insert into raw_billing.invoices values
 ('I1','A1','2026-08-01',99.00,5.94,'2026-09-01 00:00+00','2026-09-20','2026-09-01 00:00+00','b1','2026-10-01','f1',1),
 ('I1','A1','2026-08-01',89.00,5.34,'2026-09-01 00:00+00','2026-09-20','2026-09-03 00:00+00','b2','2026-10-02','f2',1),
 ('I2','A1','2026-09-01',99.00,5.94,'2026-10-01 00:00+00','2026-10-20','2026-10-01 00:00+00','b2','2026-10-02','f2',2),
 ('I3','A2','2026-01-01',19.00,1.14,'2026-02-01 00:00+00','2026-02-20','2026-02-01 00:00+00','b1','2026-10-01','f1',3);
insert into raw_billing.invoice_lines values
 ('L1','I1','plan_fee',99.00,'2026-09-01 00:00+00','b1','2026-10-01','f1',1),
 ('L2','I1','discount',-10.00,'2026-09-03 00:00+00','b2','2026-10-02','f2',1);
insert into raw_billing.payments values
 ('Y1','I1',94.34,'pending',null,'2026-09-05 00:00+00','b1','2026-10-01','f1',1),
 ('Y1','I1',94.34,'late','2026-09-25 00:00+00','2026-09-25 00:00+00','b2','2026-10-02','f2',1),
 ('Y3','I3',20.14,'failed',null,'2026-02-25 00:00+00','b1','2026-10-01','f1',2);
insert into raw_network.cell_kpi_hourly values
 ('CELL1','广东','4G','2026-10-01 00:00+00',-95.0,-10.0,12.0,35.0,8.0,30.0,100,99,1,'b1','2026-10-01','f1',1),
 ('CELL1','广东','4G','2026-10-01 00:00+00',-96.0,-10.0,12.0,35.0,8.0,30.0,100,99,1,'b2','2026-10-02','f2',1),
 ('CELL2','北京','5G','2026-10-01 00:00+00',-80.0,-8.0,28.0,400.0,50.0,18.0,50,50,0,'b1','2026-10-01','f1',2);
insert into raw_network.subscriber_experience_daily values
 ('2026-10-01','13800138001','460001234567890','35000000000001','CELL1',120.5,30.1,-95.0,'b1','2026-10-01','f1',1);
insert into raw_survey.responses values
 ('R1','C1','13800138001','nps','relationship',null,'2026-09-01 10:00+00','likelihood_to_recommend',9,10,'信号很好',
  'wenjuan','E1','2026-09-02 01:00+00','b1','2026-10-01','f1',1),
 ('R2','C1','13800138001','nps','relationship',null,'2026-09-20 10:00+00','likelihood_to_recommend',6,10,'  ',
  'wenjuan','E2','2026-09-21 01:00+00','b1','2026-10-01','f1',2),
 ('R2','C1','13800138001','nps','relationship',null,'2026-09-20 10:00+00','likelihood_to_recommend',6,10,'  ',
  'wenjuan','E3','2026-09-22 01:00+00','b2','2026-10-02','f2',1),
 ('R3','C1','13800138001','csat','complaint','T1','2026-09-03 10:00+00','satisfaction_with_resolution',4,5,null,
  'wenjuan','E2','2026-09-21 01:00+00','b1','2026-10-01','f1',3),
 ('R4','C2','13800138002','nps','relationship',null,'2026-02-20 10:00+00','likelihood_to_recommend',7,10,
  '还行 call me 13800138002','wenjuan','E1','2026-09-02 01:00+00','b1','2026-10-01','f1',4),
 ('R5','C3','13800138003','ces','complaint',null,'2026-02-20 10:00+00','ease_of_resolution',5,7,null,
  'wenjuan','E1','2026-09-02 01:00+00','b1','2026-10-01','f1',5);
"""


def _batches(sql: str) -> str:
    """The rows' short batch names ('b1', 'b2', ...) as the uuids a raw table's ``_batch_id`` holds."""
    import re

    return re.sub(r"'(b\d+)'", r"md5('\1')::uuid", sql)


def _table_oid(conn: psycopg.Connection[dict[str, Any]], table: str) -> int:
    """The table's oid: unchanged by a merge into it, new after a rebuild."""
    return conn.execute(f"select '{table}'::regclass::oid as oid").fetchone()["oid"]


def _rows_by_key(conn: psycopg.Connection[dict[str, Any]], table: str, key: str) -> dict[str, dict[str, Any]]:
    """Every row of ``table`` by its ``key``, with its row version (``xmin``): which rows a run rewrote."""
    return {r[key]: r for r in conn.execute(f"select *, xmin::text as xmin from {table}")}


# Personal values in SCRATCH_ROWS that must appear nowhere downstream of raw.
SENTINELS = ("张三丰", "110101199005010011", "13800138001", "13800138002", "zhang@example.cn", "科技路", "6222020200")


def _raw_tables() -> list[str]:
    return [t.qualified for s in sources.SOURCES for t in sources.tables(s)]


def _build(url: str, *args: str) -> None:
    """``dbt build <args>`` in this process, with the environment the product's runner gives dbt
    (:func:`telco_dw.transform.dbt.dbt_env`). What these tests check is the models; a dbt process per
    build (``dbt.run``) costs about 5 s of interpreter start and imports, 50-odd times in this module.
    The tests of the runner's own errors and log call ``dbt.run``."""
    from unittest import mock

    from dbt.cli.main import dbtRunner

    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    with mock.patch.dict(os.environ, dbt.dbt_env(url), clear=True):
        result = dbtRunner().invoke(["build", *args])
    if not result.success:
        log = dbt.log_file(config.load())
        raise UserError(f"`dbt build {' '.join(args)}` failed (in process): {result.exception or f'see {log}'}")


def _recorded(conn: psycopg.Connection[dict[str, Any]], relation: str) -> dict[str, Any]:
    """The window an incremental model records in its table's comment (macros/merge_window.sql)."""
    comment = conn.execute(f"select obj_description('{relation}'::regclass, 'pg_class') as c").fetchone()["c"]
    return json.loads(comment)


def _customer_days(conn: psycopg.Connection[dict[str, Any]], relation: str, column: str) -> dict[str, str]:
    """``column`` as text by ``customer_day_id``."""
    found = conn.execute(f"select customer_day_id as id, {column}::text as v from {relation}")
    return {r["id"]: r["v"] for r in found}


@pytest.fixture(scope="module")
def dbt_database(warehouse: config.Config) -> Iterator[str]:
    from telco_dw.warehouse.connection import connect, warehouse_url

    with connect(warehouse, "postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{TEST_DATABASE}" with (force)')
        try:
            conn.execute(f'create database "{TEST_DATABASE}"')
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip(f"the test server does not let us create database {TEST_DATABASE}")
    url = warehouse_url(warehouse, TEST_DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        ddl.ensure_all(conn)
        with conn.transaction():  # staging tokenises with privacy.token; marts grant bi_reader select
            tokens.install(conn, tokens.key(warehouse))
            roles.apply(conn)
    yield url
    with connect(warehouse, "postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{TEST_DATABASE}" with (force)')


@pytest.fixture(scope="module")
def built(dbt_database: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(dbt_database, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(_raw_tables())}")
        conn.execute(_batches(SCRATCH_ROWS))
    _build(dbt_database)
    with psycopg.connect(dbt_database, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.mark.integration
def test_dim_customers_has_one_row_per_crm_customer(built: psycopg.Connection[dict[str, Any]]) -> None:
    rows = {
        r["customer_id"]: r
        for r in built.execute(
            "select customer_id, city, signed_up_date::text, plan_code, subscription_status, is_churned, "
            "churned_at::date::text as churned_date, churn_type, subscription_count, pay_method, invoice_count, "
            "billed_amount_excl_tax::text, late_payment_count, failed_payment_count, complaint_count, "
            "open_complaint_count, survey_response_count, last_nps_score, last_nps_category "
            "from marts_candidate.dim_customers"
        )
    }
    assert sorted(rows) == ["C1", "C2", "C3"]  # the orphan ticket's C404 is not a customer
    assert rows["C1"] == {
        "customer_id": "C1",
        "city": "广州",  # latest version of the customer
        "signed_up_date": "2024-01-10",
        "plan_code": "P99",  # latest version of the subscription (a plan change)
        "subscription_status": "active",
        "is_churned": False,
        "churned_date": None,
        "churn_type": None,
        "subscription_count": 1,
        "pay_method": "alipay",
        "invoice_count": 2,
        "billed_amount_excl_tax": "188.00",  # the corrected I1 (89) + I2 (99)
        "late_payment_count": 1,  # Y1's latest version: late, no longer pending
        "failed_payment_count": 0,
        "complaint_count": 2,
        "open_complaint_count": 1,
        "survey_response_count": 3,
        "last_nps_score": 6,
        "last_nps_category": "detractor",  # 6 is a detractor
    }
    assert (rows["C2"]["is_churned"], rows["C2"]["churned_date"], rows["C2"]["churn_type"]) == (
        True,
        "2026-03-05",
        "involuntary",
    )
    assert (rows["C2"]["failed_payment_count"], rows["C2"]["last_nps_category"]) == (1, "passive")
    # C3: a suspended subscription is still in service, so a later churned one does not churn the customer
    assert (rows["C3"]["subscription_status"], rows["C3"]["is_churned"], rows["C3"]["subscription_count"]) == (
        "suspended",
        False,
        2,
    )
    assert (rows["C3"]["invoice_count"], rows["C3"]["billed_amount_excl_tax"], rows["C3"]["pay_method"]) == (
        0,
        "0",
        None,
    )


@pytest.mark.integration
def test_dim_customers_is_the_customer_360_as_of_the_data(built: psycopg.Connection[dict[str, Any]]) -> None:
    """The 360's measures for C1, by hand from SCRATCH_ROWS. The data's last day is 2026-10-01 (the
    latest invoice issue and cell-hour), so the ARPU window is Aug-Oct 2026: (89 + 99 + 0) / 3 months."""
    row = built.execute(
        "select as_of_date::text, tenure_months, lifecycle_stage, arpu_3m::text, clv::text, "
        "recency_score, rfm_segment is not null as has_segment, payment_behaviour, last_paid_at::date::text, "
        "on_time_payment_rate::text, recent_complaint_count, recent_sla_breach_count, fcr_rate::text, "
        "last_csat_score, last_csat_scale_max, last_csat_category, recent_usage_day_count, "
        "network_experience_score::text, poor_coverage_share::text "
        "from marts_candidate.dim_customers where customer_id = 'C1'"
    ).fetchone()
    assert row == {
        "as_of_date": "2026-10-01",
        "tenure_months": 32,  # 2024-01-10 to 2026-10-01, not to today
        "lifecycle_stage": "decline",  # the latest NPS answer (6) is a detractor
        "arpu_3m": "62.6667",
        "clv": "818.84",  # 62.6667 x 0.4 x 0.98 / (1 + 0.01 - 0.98)
        "recency_score": 5,  # paid 6 days before the as-of day; C2 and C3 never
        "has_segment": True,
        "payment_behaviour": "late",
        "last_paid_at": "2026-09-25",
        "on_time_payment_rate": "0.000000",
        "recent_complaint_count": 2,
        "recent_sla_breach_count": 1,  # T2 is still open; T1 was answered in 2 h and resolved in 23 h
        "fcr_rate": "0.000000",  # T1 took two contacts, T2 is open
        "last_csat_score": 4,
        "last_csat_scale_max": 5,
        "last_csat_category": "satisfied",  # 4 of 5 is top-2-box
        "recent_usage_day_count": 1,
        "network_experience_score": "50.00",  # -95.0 dBm is fair
        "poor_coverage_share": "0.000000",
    }
    stages = {
        r["customer_id"]: r["lifecycle_stage"]
        for r in built.execute("select customer_id, lifecycle_stage from marts_candidate.dim_customers")
    }
    assert stages["C2"] == "churned"


@pytest.mark.integration
def test_msisdn_token_is_a_keyed_hmac_sha256_that_joins_the_sources(built: psycopg.Connection[dict[str, Any]]) -> None:
    import hashlib
    import hmac

    key = tokens.key(config.load())  # the test server's key, held by privacy.token
    token = built.execute(
        "select msisdn_token from staging.stg_crm__subscriptions where subscription_id = 'S1'"
    ).fetchone()
    assert token == {"msisdn_token": hmac.new(key, b"13800138001", hashlib.sha256).hexdigest()}
    assert token["msisdn_token"] != hashlib.sha256(b"13800138001").hexdigest()  # keyed, not a bare hash
    day = built.execute(
        "select customer_day_id, subscriber_count, volume_mb::text, rsrp_quality_bin, is_poor_coverage, "
        "experience_score from marts_candidate.fct_customer_experience_daily"
    ).fetchall()
    assert day == [
        {
            "customer_day_id": "C1@2026-10-01",
            "subscriber_count": 1,
            "volume_mb": "120.50",
            "rsrp_quality_bin": "fair",
            "is_poor_coverage": False,
            "experience_score": 50,
        }
    ]


@pytest.mark.integration
def test_billing_and_network_facts(built: psycopg.Connection[dict[str, Any]]) -> None:
    billing = {
        r["customer_month_id"]: r
        for r in built.execute(
            "select customer_month_id, revenue_excl_tax::text, subscriber_days, subscriber_months::text, "
            "late_payment_count, failed_payment_count, arpu::text from marts_candidate.fct_billing_monthly"
        )
    }
    assert billing["C1|2026-08"] == {
        "customer_month_id": "C1|2026-08",
        "revenue_excl_tax": "89.00",  # the corrected I1
        "subscriber_days": 31,
        "subscriber_months": "1.000000",
        "late_payment_count": 1,
        "failed_payment_count": 0,
        "arpu": "89.0000",
    }
    assert (billing["C1|2026-10"]["revenue_excl_tax"], billing["C1|2026-10"]["subscriber_days"]) == ("0", 1)
    assert (billing["C2|2026-01"]["revenue_excl_tax"], billing["C2|2026-01"]["failed_payment_count"]) == ("19.00", 1)
    assert "C2|2026-04" not in billing  # churned on 2026-03-05, nothing invoiced afterwards
    cells = {
        r["cell_day_id"]: r
        for r in built.execute(
            "select cell_day_id, hours_reported, call_setup_success_rate::text, call_drop_rate::text, "
            "avg_rsrp_dbm::text, rsrp_quality_bin, poor_coverage_share::text "
            "from marts_candidate.fct_network_cell_daily"
        )
    }
    assert cells == {
        "CELL1@2026-10-01": {
            "cell_day_id": "CELL1@2026-10-01",
            "hours_reported": 1,
            "call_setup_success_rate": "0.990000",  # 99 / 100
            "call_drop_rate": "0.010101",  # 1 / 99: drops over successful setups, not attempts
            "avg_rsrp_dbm": "-96.0",  # the later load
            "rsrp_quality_bin": "fair",
            "poor_coverage_share": "0.000000",
        },
        "CELL2@2026-10-01": {
            "cell_day_id": "CELL2@2026-10-01",
            "hours_reported": 1,
            "call_setup_success_rate": "1.000000",
            "call_drop_rate": "0.000000",
            "avg_rsrp_dbm": "-80.0",
            "rsrp_quality_bin": "excellent",
            "poor_coverage_share": "0.000000",
        },
    }
    versions = built.execute(
        "select subscription_id, plan_code, dbt_valid_to is null as is_current from snapshots.snap_crm__subscriptions "
        "order by subscription_id"
    ).fetchall()
    assert [(v["subscription_id"], v["plan_code"], v["is_current"]) for v in versions] == [
        ("S1", "P99", True),
        ("S2", "P19", True),
        ("S3", "P19", True),
        ("S4", "P199", True),
    ]


# A value outside a check constraint, per model of ROW_RULED (not nulls are tried on every column).
BROKEN_CHECKS = {
    "dim_customers": [("lifecycle_stage", "dormant"), ("recency_score", 6), ("network_experience_score", 101)],
    "fct_billing_monthly": [("subscriber_months", 2), ("tenure_segment", "5 years")],
    "int_customer_months_spined": [("tenure_segment", "5 years")],
    "fct_survey_responses": [("score", 11), ("survey_type", "poll")],
    "fct_complaints": [("channel", "fax")],
}


@pytest.mark.integration
def test_row_rules_are_constraints_of_the_built_tables(
    built: psycopg.Connection[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    """The built tables carry the constraints their models declare, and the warehouse refuses a row
    that breaks one: a null where a column is not null, a value outside a check."""
    for model in _models(manifest):
        if model["name"] not in ROW_RULED:
            continue
        table = f"{ROW_RULED[model['name']]}.{model['name']}"
        not_null = {
            r["attname"]
            for r in built.execute(
                "select attname from pg_attribute where attrelid = %s::regclass and attnotnull and attnum > 0",
                (table,),
            )
        }
        checks = [
            r["def"]
            for r in built.execute(
                "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = %s::regclass "
                "and contype = 'c'",
                (table,),
            )
        ]
        for column, spec in model["columns"].items():
            kinds = [c["type"] for c in spec["constraints"]]
            assert (column in not_null) == ("not_null" in kinds), f"{table}.{column}"
            assert sum(column in d for d in checks) >= kinds.count("check"), f"{table}.{column}: {checks}"
        row = built.execute(f"select * from {table} limit 1").fetchone()
        assert row, f"{table} is empty: nothing to break"
        for column, value, error in [
            *((c, None, psycopg.errors.NotNullViolation) for c in sorted(not_null)),
            *((c, v, psycopg.errors.CheckViolation) for c, v in BROKEN_CHECKS.get(model["name"], [])),
        ]:
            broken = row | {column: value}
            names = ", ".join(broken)
            with pytest.raises(error), built.transaction(force_rollback=True):
                built.execute(
                    f"insert into {table} ({names}) values ({', '.join(['%s'] * len(broken))})", list(broken.values())
                )


@pytest.mark.integration
def test_a_row_that_breaks_a_row_rule_fails_its_model_and_keeps_the_table(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription status the rules do not know reaches `dim_customers` (built without the
    staging tests that would stop it first): the model fails on its check constraint, naming it, and
    the table stays as the build before left it."""
    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    table = "marts_candidate.dim_customers"
    before = built.execute(f"select customer_id, subscription_status from {table} order by 1").fetchall()
    built.execute(
        _batches(
            "insert into raw_crm.subscriptions values ('S3','C3','13800138003','P19','畅享19元套餐',19,0,"
            "'paused','2023-02-01 00:00+00',null,null,'2026-09-30 00:00+00','b23','2026-12-07 07:00+00','f23',1)"
        )
    )
    try:
        with caplog.at_level("INFO", logger="telco_dw.transform.dbt"), pytest.raises(UserError):
            dbt.run(["run", "--select", "+dim_customers"], dbt_database)
        assert 'check constraint "dim_customers_subscription_status_check"' in caplog.text
        assert built.execute(f"select customer_id, subscription_status from {table} order by 1").fetchall() == before
    finally:
        built.execute("delete from raw_crm.subscriptions where _source_file = 'f23'")
        _build(dbt_database, "--select", "+dim_customers", "--full-refresh")


@pytest.mark.integration
def test_staging_keeps_one_latest_row_per_key(built: psycopg.Connection[dict[str, Any]]) -> None:
    counts = {
        r["name"]: r["n"]
        for r in built.execute(
            "select 'customers' as name, count(*) as n from staging.stg_crm__customers "
            "union all select 'tickets', count(*) from staging.stg_crm__tickets "
            "union all select 'cells', count(*) from staging.stg_network__cell_kpi_hourly "
            "union all select 'answers', count(*) from staging.stg_survey__responses"
        )
    }
    assert counts == {"customers": 3, "tickets": 3, "cells": 2, "answers": 5}
    cell = built.execute(
        "select rsrp_dbm::text from staging.stg_network__cell_kpi_hourly where cell_hour_id = 'CELL1@2026-10-01T00'"
    ).fetchone()
    assert cell == {"rsrp_dbm": "-96.0"}  # the later load
    answer = built.execute(
        "select export_id, has_comment, comment_length from staging.stg_survey__responses where response_id = 'R2'"
    ).fetchone()
    assert answer == {"export_id": "E3", "has_comment": False, "comment_length": 0}  # a blank comment is none


@pytest.mark.integration
def test_no_personal_column_or_value_leaves_raw(built: psycopg.Connection[dict[str, Any]]) -> None:
    columns = built.execute(
        "select table_schema || '.' || table_name as relation, column_name from information_schema.columns "
        "where table_schema in ('staging', 'intermediate', 'marts_candidate')"
    ).fetchall()
    relations = sorted({c["relation"] for c in columns})
    assert "marts_candidate.dim_customers" in relations
    assert not [c for c in columns if c["column_name"] in PERSONAL_NAMES]
    for relation in relations:
        for sentinel in SENTINELS:
            hit = built.execute(
                f"select count(*) as n from {relation} as t where t::text like %s", (f"%{sentinel}%",)
            ).fetchone()
            assert hit == {"n": 0}, f"{sentinel!r} found in {relation}"


@pytest.mark.integration
def test_incremental_facts_merge_late_data_and_snapshot_dates_a_plan_change(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """A redelivered hour replaces its day's figures; a new day is added; days already built are not
    duplicated. A plan change lands as a second, dated snapshot version."""
    late = _batches(
        "insert into raw_network.cell_kpi_hourly values "
        "('CELL1','广东','4G','2026-10-01 01:00+00',-110.0,-12.0,5.0,20.0,5.0,40.0,100,97,3,'b3','2026-10-03','f3',1),"
        "('CELL1','广东','4G','2026-10-02 00:00+00',-90.0,-10.0,15.0,35.0,8.0,30.0,10,10,0,'b3','2026-10-03','f3',2);"
        "insert into raw_crm.subscriptions values ('S1','C1','13800138001','P199','5G尊享199元套餐',199,24,'active',"
        "'2024-01-10 08:00+00',null,null,'2026-10-02 08:00+00','b3','2026-10-03','f3',1)"
    )
    built.execute(late)
    staged = ("stg_network__cell_kpi_hourly", "stg_crm__subscriptions")  # tables: rebuilt to see the new rows
    _build(dbt_database, "--select", *staged, "fct_network_cell_daily", "snap_crm__subscriptions")
    cells = {
        r["cell_day_id"]: r
        for r in built.execute(
            "select cell_day_id, hours_reported, call_attempts, poor_coverage_share::text "
            "from marts_candidate.fct_network_cell_daily where cell_id = 'CELL1'"
        )
    }
    assert cells == {
        "CELL1@2026-10-01": {
            "cell_day_id": "CELL1@2026-10-01",
            "hours_reported": 2,
            "call_attempts": 200,
            "poor_coverage_share": "0.500000",
        },
        "CELL1@2026-10-02": {
            "cell_day_id": "CELL1@2026-10-02",
            "hours_reported": 1,
            "call_attempts": 10,
            "poor_coverage_share": "0.000000",
        },
    }
    versions = built.execute(
        "select plan_code, dbt_valid_from::text, dbt_valid_to::text from snapshots.snap_crm__subscriptions "
        "where subscription_id = 'S1' order by dbt_valid_from"
    ).fetchall()
    assert [(v["plan_code"], v["dbt_valid_from"][:10], (v["dbt_valid_to"] or "")[:10]) for v in versions] == [
        ("P99", "2026-05-01", "2026-10-02"),
        ("P199", "2026-10-02", ""),
    ]


@pytest.mark.integration
def test_staged_subscriber_days_are_tokenised_once_and_follow_privacy_nulls(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The subscriber-days are staged incrementally: a new day is tokenised and merged, the day already
    staged is not duplicated, and a day whose landed number privacy nulls (retention, erasure) leaves
    staging at the next build, though its token cannot be recomputed."""
    staged = (
        "select usage_date::text as day, volume_mb::text as mb from staging.stg_network__subscriber_experience_daily"
    )
    assert built.execute(staged).fetchall() == [{"day": "2026-10-01", "mb": "120.50"}]
    built.execute(
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            "('2026-10-02','13800138001','460001234567890','35000000000001','CELL1',80.0,20.0,-99.0,'b4','2026-10-04','f4',1)"
        )
    )
    _build(
        dbt_database,
        "--select",
        "stg_network__subscriber_experience_daily",
        "int_subscriber_days_aggregated_to_customers",
    )
    assert sorted(r["day"] for r in built.execute(staged)) == ["2026-10-01", "2026-10-02"]
    (token,) = {
        r["msisdn_token"]
        for r in built.execute("select msisdn_token from staging.stg_network__subscriber_experience_daily")
    }
    assert (
        token
        == built.execute(
            "select msisdn_token from staging.stg_crm__subscriptions where subscription_id = 'S1'"
        ).fetchone()["msisdn_token"]
    )

    nulled = (  # what the staging post-hook looks for: through the partial index, not the whole table
        "select _batch_id from raw_network.subscriber_experience_daily where msisdn is null "
        "and (_batch_id, _row_number) = (md5('b1')::uuid, 1)"
    )
    built.execute("set enable_seqscan = off")  # a test table is one page: how it could be read, not what is cheaper
    plan = "\n".join(r["QUERY PLAN"] for r in built.execute(f"explain {nulled}"))
    built.execute("reset enable_seqscan")
    assert "subscriber_experience_daily_nulled" in plan, plan
    built.execute("update raw_network.subscriber_experience_daily set msisdn = null where usage_date = '2026-10-01'")
    _build(dbt_database, "--select", "stg_network__subscriber_experience_daily")
    assert built.execute(staged).fetchall() == [{"day": "2026-10-02", "mb": "80.00"}]
    days = built.execute("select usage_date::text as day from intermediate.int_subscriber_days_aggregated_to_customers")
    assert sorted(r["day"] for r in days) == ["2026-10-01", "2026-10-02"]  # customer-days stay (docs/warehouse.md)


@pytest.mark.integration
def test_incremental_run_rewrites_and_tests_only_the_days_it_merges(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """An incremental run of the cell facts builds again the days of the cell-hours staged since its
    last run (not the lookback's), records them in the table's comment, rewrites only the rows of
    those days that changed, and its data tests read those days only: a bad row of another day passes
    the run's tests and fails a `dbt test` of the whole table; a bad row of a merged day fails the
    run. A run with nothing staged since merges no day."""
    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    cells, both = "marts_candidate.fct_network_cell_daily", ("stg_network__cell_kpi_hourly", "fct_network_cell_daily")
    bad = "insert into {} (cell_day_id, cell_id, measured_date, hours_reported) values ('X@{day}', 'X', '{day}', 99)"
    hour = (
        "insert into raw_network.cell_kpi_hourly values ('CELL7','广东','4G','{day} 0{h}:00+00',-99.0,-10.0,10.0,"
        "30.0,8.0,30.0,40,40,2,'b2{h}','2026-11-01 0{h}:00+00','f2{h}',1)"
    )
    before = {r["cell_day_id"]: r["xmin"] for r in built.execute(f"select cell_day_id, xmin::text from {cells}")}
    latest = built.execute(f"select max(measured_date) as day from {cells}").fetchone()["day"]
    built.execute(bad.format(cells, day=latest - timedelta(days=1)))  # a day the run does not merge
    built.execute(_batches(hour.format(day=latest, h=1)))  # a late hour of the latest day
    try:
        _build(dbt_database, "--select", *both)  # its tests pass: the bad day was not merged

        window = _recorded(built, cells)
        assert window["merged_since"] == latest.isoformat() and window["date_column"] == "measured_date"
        after = {r["cell_day_id"]: r["xmin"] for r in built.execute(f"select cell_day_id, xmin::text from {cells}")}
        assert {k: after[k] for k in before} == before, "the run rewrote rows whose figures did not change"
        assert f"CELL7@{latest}" in after

        with pytest.raises(UserError, match="dbt test"):
            dbt.run(["test", "--select", "fct_network_cell_daily"], dbt_database)  # the whole table

        built.execute(f"delete from {cells} where cell_id = 'X'")
        built.execute(bad.format(cells, day=latest))  # a merged day's, and no source row replaces it
        built.execute(_batches(hour.format(day=latest, h=2)))
        with pytest.raises(UserError, match="dbt build"):
            _build(dbt_database, "--select", *both)
    finally:
        built.execute(f"delete from {cells} where cell_id = 'X'")
    _build(dbt_database, "--select", *both)
    assert _recorded(built, cells)["merged_since"] == "infinity"


@pytest.mark.integration
def test_incremental_run_merges_the_days_its_new_rows_reach(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """A staging model reads the rows landed since its last run (the `_loaded_at` it records), however
    old their day: a file of a day far behind the lookback is merged, and the facts downstream merge
    from that day on; a run with nothing new stages nothing and rewrites nothing."""
    staged, cells = "staging.stg_network__cell_kpi_hourly", "marts_candidate.fct_network_cell_daily"

    def window(relation: str) -> dict[str, Any]:
        return _recorded(built, relation)

    def versions() -> dict[str, str]:
        return {r["cell_day_id"]: r["xmin"] for r in built.execute(f"select cell_day_id, xmin::text from {cells}")}

    latest = built.execute(f"select max(measured_date) as day from {cells}").fetchone()["day"]
    late_day = latest - timedelta(days=12)  # far behind incremental_lookback_days (3)
    before = versions()
    started = {"since_run": "t/1", "changed_since": "infinity"}  # what publish.begin records
    built.execute(f"comment on table {cells} is '{json.dumps(window(cells) | started)}'")
    built.execute(
        _batches(
            "insert into raw_network.cell_kpi_hourly values "
            f"('CELL9','广东','4G','{late_day} 05:00+00',-99.0,-10.0,10.0,30.0,8.0,30.0,40,40,2,'b9',"
            "'2026-12-01 09:00+00','f9',1)"
        )
    )
    _build(dbt_database, "--select", "stg_network__cell_kpi_hourly", "fct_network_cell_daily")

    assert window(staged)["loaded_through"].startswith("2026-12-01T09:00:00")
    assert window(staged)["merged_since"] == window(cells)["merged_since"] == late_day.isoformat()
    assert window(cells)["changed_since"] == late_day.isoformat() and window(cells)["since_run"] == "t/1"
    late = built.execute(f"select call_drops from {cells} where cell_day_id = 'CELL9@{late_day}'").fetchone()
    assert late == {"call_drops": 2}, "the late day was not merged into the facts"
    assert {k: v for k, v in versions().items() if k in before} == before, "unchanged days were rewritten"

    merged = versions()
    _build(dbt_database, "--select", "stg_network__cell_kpi_hourly", "fct_network_cell_daily")
    assert window(staged)["merged_since"] == window(cells)["merged_since"] == "infinity"  # nothing staged
    assert window(cells)["changed_since"] == late_day.isoformat(), "a run that merged nothing moved changed_since"
    assert window(staged)["loaded_through"].startswith("2026-12-01T09:00:00")
    assert versions() == merged


@pytest.mark.integration
def test_customer_day_facts_merge_the_customer_days_written_since_their_last_run(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The customer-days stamp the rows they insert or change (`_merged_at`); the facts merge the rows
    stamped after their own last run started (`stamped_through`), however old the day, and no other:
    a late day is merged, a re-merged customer-day that did not change keeps its stamp and its fact
    is not rewritten. A facts table started from an older record (publish.begin's copy of the
    published facts after a refused build) merges again what the refused build had merged."""
    days = "intermediate.int_subscriber_days_aggregated_to_customers"
    facts = "marts_candidate.fct_customer_experience_daily"

    def window(relation: str) -> dict[str, Any]:
        return _recorded(built, relation)

    def rows(relation: str, column: str) -> dict[str, str]:
        return _customer_days(built, relation, column)

    build = ("--select", "stg_network__subscriber_experience_daily", *(r.split(".")[1] for r in (days, facts)))
    _build(dbt_database, *build)  # facts up to date with the customer-days
    published = window(facts)
    stamps, versions = rows(days, "_merged_at"), rows(facts, "xmin")
    latest = built.execute(f"select max(usage_date) as day from {days}").fetchone()["day"]
    late_day = latest - timedelta(days=20)  # far behind incremental_lookback_days (3)
    built.execute(
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{late_day}','13800138001','460001234567890','35000000000001','CELL1',5.0,9.0,-111.0,'b10',"
            "'2026-12-02 09:00+00','f10',1)"
        )
    )
    _build(dbt_database, *build)

    late_id = f"C1@{late_day}"
    assert window(facts)["merged_since"] == late_day.isoformat()
    assert window(facts)["stamped_through"] > published["stamped_through"]
    assert rows(facts, "volume_mb").get(late_id) == "5.00", "the late customer-day was not merged into the facts"
    assert {k: v for k, v in rows(days, "_merged_at").items() if k in stamps} == stamps, "unchanged rows restamped"
    assert {k: v for k, v in rows(facts, "xmin").items() if k in versions} == versions, "unchanged facts rewritten"

    # a build that merged the late day was refused: the candidate restarts from the published facts
    built.execute(f"delete from {facts} where customer_day_id = %s", (late_id,))
    built.execute(f"comment on table {facts} is '{json.dumps(published)}'")
    _build(dbt_database, "--select", facts.split(".")[1])
    assert rows(facts, "volume_mb").get(late_id) == "5.00", "the refused build's late day was lost"

    merged = rows(facts, "xmin")
    _build(dbt_database, *build)  # nothing new
    assert window(facts)["merged_since"] == "infinity" and rows(facts, "xmin") == merged


@pytest.mark.integration
def test_customer_days_take_the_days_staged_since_their_last_run_from_stagings_record_or_rows(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """Staging's merge records the days of the rows it merged (`merged_days`) and the `loaded_through`
    they landed after (`loaded_after`). The customer-days take the days staged since their last run
    from that record when staging's last merge read the rows landed after the ones they read last
    (in any build); else from staging's rows: a day staged by a build that left them out is assigned
    by the next build of them, with that build's own day."""
    staged = "staging.stg_network__subscriber_experience_daily"
    days = "intermediate.int_subscriber_days_aggregated_to_customers"
    build = ("--select", *(r.split(".")[1] for r in (staged, days)))
    _build(dbt_database, *build)  # the customer-days up to date with staging
    latest = built.execute(f"select max(usage_date) as day from {days}").fetchone()["day"]
    skipped_day, built_day = latest - timedelta(days=16), latest - timedelta(days=24)

    def land(day: date, volume: float, batch: int, loaded: str) -> None:
        built.execute(
            _batches(
                "insert into raw_network.subscriber_experience_daily values "
                f"('{day}','13800138001','460001234567890','35000000000001','CELL1',{volume},9.0,-111.0,"
                f"'b{batch}','{loaded}','f{batch}',1)"
            )
        )

    land(skipped_day, 7.0, 30, "2026-12-02 10:00+00")
    _build(dbt_database, "--select", staged.split(".")[1])  # staging alone: the customer-days left behind
    after_first = _recorded(built, staged)
    assert after_first["merged_days"] == [skipped_day.isoformat()]

    land(built_day, 8.0, 31, "2026-12-02 11:00+00")
    _build(dbt_database, *build)
    assert _recorded(built, staged)["merged_days"] == [built_day.isoformat()]
    assert _recorded(built, staged)["loaded_after"] == after_first["loaded_through"]
    volumes = _customer_days(built, days, "volume_mb")
    assert volumes.get(f"C1@{skipped_day}") == "7.00", "the day staged by the build that left them out was lost"
    assert volumes.get(f"C1@{built_day}") == "8.00"

    land(skipped_day, 9.0, 32, "2026-12-02 12:00+00")  # a redelivery, staged and assigned in one build
    _build(dbt_database, *build)
    assert _recorded(built, staged)["merged_days"] == [skipped_day.isoformat()]
    assert _customer_days(built, days, "volume_mb").get(f"C1@{skipped_day}") == "9.00"


@pytest.mark.integration
def test_customer_days_assign_again_the_numbers_of_subscriptions_landed_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The customer-days read on from what their last run read (`read_through`): the days staged
    since, and the days of every number whose subscription landed since, at any age from the
    subscription's activation (the CRM reports a subscription late); the other customers' days are
    not rewritten."""
    days = "intermediate.int_subscriber_days_aggregated_to_customers"
    build = (
        "--select",
        "stg_crm__subscriptions",
        "snap_crm__subscriptions",
        "stg_network__subscriber_experience_daily",
        "int_subscriber_days_aggregated_to_customers",
    )

    def read_through() -> dict[str, str]:
        return _recorded(built, days)["read_through"]

    def rows(column: str) -> dict[str, str]:
        return _customer_days(built, days, column)

    latest = built.execute(f"select max(usage_date) as day from {days}").fetchone()["day"]
    late_day = latest - timedelta(days=15)  # far behind incremental_lookback_days (3)
    built.execute(  # a day of a number the CRM does not know yet: it belongs to no one
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{late_day}','13800138009','460001234567899','35000000000009','CELL1',7.0,9.0,-101.0,'b11',"
            "'2026-12-03 09:00+00','f11',1)"
        )
    )
    _build(dbt_database, *build)
    assert f"C2@{late_day}" not in rows("volume_mb")
    assert read_through()["stg_network__subscriber_experience_daily"].startswith("2026-12-03T09:00:00")
    stamps = rows("_merged_at")

    activated = late_day - timedelta(days=5)
    built.execute(  # the CRM reports the number's subscription late, activated before that day
        _batches(
            "insert into raw_crm.subscriptions values ('S9','C2','13800138009','P99','畅享99元套餐',99,12,'active',"
            f"'{activated} 08:00+00',null,null,'{activated} 08:00+00','b12','2026-12-03 10:00+00','f12',1)"
        )
    )
    _build(dbt_database, *build)
    assert rows("volume_mb").get(f"C2@{late_day}") == "7.00", "the late subscription's number was not assigned"
    assert read_through()["stg_crm__subscriptions"].startswith("2026-12-03T10:00:00")
    assert {k: v for k, v in rows("_merged_at").items() if k in stamps} == stamps, "other customers' days rewritten"


def _window_from_every_day(conn: psycopg.Connection[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 90-day experience window of each customer read from every customer-day, as
    int_network_experience_aggregated_to_customers computed it before it added up weekly sums and
    slid from its last build's sums: the sums it keeps, and the score and share from them."""
    return conn.execute(
        """
        with as_of as (select max(observed_through_date) as day from intermediate.int_months_observed),
        days as (
            select d.*, case
                when avg_rsrp_dbm is null then null when avg_rsrp_dbm > -85 then 100
                when avg_rsrp_dbm > -95 then 75 when avg_rsrp_dbm > -105 then 50
                when avg_rsrp_dbm >= -115 then 25 else 0 end as score
            from intermediate.int_subscriber_days_aggregated_to_customers as d, as_of
            where d.usage_date between as_of.day - 89 and as_of.day
        )
        select customer_id, count(*) as recent_usage_day_count,
            count(*) filter (where volume_mb > 0) as recent_active_day_count,
            count(score) as scored_day_count, coalesce(sum(score), 0) as experience_score_sum,
            count(avg_rsrp_dbm) as rsrp_day_count,
            count(*) filter (where avg_rsrp_dbm <= -105) as poor_coverage_day_count,
            round(avg(score), 2) as network_experience_score,
            round(1.0 * count(*) filter (where avg_rsrp_dbm <= -105) / nullif(count(avg_rsrp_dbm), 0), 6)
                as poor_coverage_share
        from days group by customer_id order by customer_id
        """
    ).fetchall()


@pytest.mark.integration
def test_experience_window_adds_up_the_weeks_of_the_customer_days_written_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The weekly experience sums hold the complete weeks, summed again for the customer-weeks with a
    customer-day written since their last merge, at any age, and no other; the 90-day window added up
    from them (and the days at its ends) equals the window read from every customer-day."""
    days, weeks = (
        "intermediate.int_subscriber_days_aggregated_to_customers",
        "intermediate.int_customer_weeks_experienced",
    )
    window = "intermediate.int_network_experience_aggregated_to_customers"
    build = (
        "--select",
        "stg_network__subscriber_experience_daily",
        *(relation.split(".")[1] for relation in (days, weeks, window)),
    )
    first = built.execute(f"select min(usage_date) as day from {days}").fetchone()["day"]
    built.execute(  # a day a week after the first one's: the first one's week is complete
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{first + timedelta(days=7)}','13800138001','460001234567890','35000000000001','CELL1',2.0,9.0,"
            "-90.0,'b14','2026-12-04 08:00+00','f14',1)"
        )
    )
    _build(dbt_database, *build)  # the weeks up to date with the customer-days
    versions = {r["id"]: r["v"] for r in built.execute(f"select customer_week_id as id, xmin::text as v from {weeks}")}
    assert versions, "the test world has no complete customer-week"
    latest = built.execute(f"select max(usage_date) as day from {days}").fetchone()["day"]
    late_day = latest - timedelta(days=25)  # an older week than any the customer-days had
    built.execute(
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{late_day}','13800138001','460001234567890','35000000000001','CELL1',4.0,9.0,-120.0,'b13',"
            "'2026-12-04 09:00+00','f13',1)"
        )
    )
    _build(dbt_database, *build)

    late_week = late_day - timedelta(days=late_day.weekday())
    assert _recorded(built, weeks)["merged_since"] == late_week.isoformat()
    summed = built.execute(
        f"""
        select customer_id || '@' || to_char(date_trunc('week', usage_date), 'YYYY-MM-DD') as id,
            count(*) as usage_day_count, count(*) filter (where volume_mb > 0) as active_day_count,
            count(avg_rsrp_dbm) as rsrp_day_count,
            count(*) filter (where avg_rsrp_dbm <= -105) as poor_coverage_day_count
        from {days}
        -- complete weeks: ended by the latest customer-day
        where date_trunc('week', usage_date) + interval '7 days' <= (select max(usage_date) + 1 from {days})
        group by 1 order by 1
        """
    ).fetchall()
    kept = built.execute(
        f"select customer_week_id as id, usage_day_count, active_day_count, rsrp_day_count, poor_coverage_day_count "
        f"from {weeks} order by 1"
    ).fetchall()
    assert kept == summed
    assert f"C1@{late_week}" in {r["id"] for r in kept}, "the late customer-day's week was not summed"
    after = {r["id"]: r["v"] for r in built.execute(f"select customer_week_id as id, xmin::text as v from {weeks}")}
    others = set(versions) - {f"C1@{late_week}"}
    assert {k: after[k] for k in others} == {k: versions[k] for k in others}, "weeks without a new day rewritten"
    assert built.execute(f"select * from {window} order by customer_id").fetchall() == _window_from_every_day(built)


@pytest.mark.integration
def test_experience_window_slides_from_its_last_sums_and_sums_again_the_customers_written_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """When the as-of day moves on, the 90-day window slides: each customer's sums of the last build,
    plus the days that entered, minus the days that left. A customer with a day of the last window
    written since is summed again whole. The sums of the last build are what a slide starts from
    (an offset planted in them is carried by a customer without a new day, and gone for one with
    one); a whole sum (the as-of day moved back, `--full-refresh`) starts from the customer-days
    only. Every other figure equals the window read from every customer-day."""
    window = "intermediate.int_network_experience_aggregated_to_customers"
    build = (
        "--select",
        "int_months_observed",
        "stg_network__subscriber_experience_daily",
        "int_subscriber_days_aggregated_to_customers",
        "int_customer_weeks_experienced",
        window.split(".")[1],
        "fct_customer_experience_daily",  # merges the days landed here, as a build would
    )
    _build(dbt_database, *build)  # the as-of day of the data the tests before landed
    as_of = built.execute("select max(observed_through_date) as day from intermediate.int_months_observed")
    as_of = as_of.fetchone()["day"]
    built.execute(  # C3's first day of the window (it leaves when the window moves on by one) and one later
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{as_of - timedelta(days=89)}','13800138003','460001234567893','35000000000003','CELL1',1.0,9.0,"
            "-80.0,'b24','2026-12-04 10:00+00','f24',1),"
            f"('{as_of - timedelta(days=10)}','13800138003','460001234567893','35000000000003','CELL1',2.0,9.0,"
            "-100.0,'b24','2026-12-04 10:00+00','f24',2)"
        )
    )
    _build(dbt_database, *build)
    assert _recorded(built, window)["as_of_date"] == as_of.isoformat()
    assert built.execute(f"select * from {window} order by customer_id").fetchall() == _window_from_every_day(built)
    planted = 25  # a quarter of a day's score of 100 that no customer-day holds (C3's score stays in 0-100)
    plant = f"update {window} set experience_score_sum = experience_score_sum + {planted} where customer_id = any(%s)"
    built.execute(plant, (["C1", "C3"],))
    c1_day = built.execute(  # a day of C1's in the window, delivered again with other figures
        "select max(usage_date) as day from intermediate.int_subscriber_days_aggregated_to_customers "
        f"where customer_id = 'C1' and usage_date > '{as_of - timedelta(days=89)}'"
    ).fetchone()["day"]
    assert c1_day is not None, "the test world has no day of C1's in the window"
    built.execute(
        _batches(
            "insert into raw_network.subscriber_experience_daily values "
            f"('{c1_day}','13800138001','460001234567890','35000000000001','CELL1',0.0,9.0,-120.0,'b25',"
            "'2026-12-04 11:00+00','f25',1)"
        )
    )
    moved_on = as_of + timedelta(days=1)
    # the data's as-of day moved on by a day (the unit tests assume the var is not set); one customer in
    # three summed again is above network_window_resum_share in a world this small
    slide_vars = f"{{as_of_date: '{moved_on}', network_window_resum_share: 1}}"
    _build(dbt_database, *build, "--exclude", "test_type:unit", "--vars", slide_vars)

    assert _recorded(built, window)["as_of_date"] == moved_on.isoformat()
    slid = {r["customer_id"]: r for r in built.execute(f"select * from {window}")}
    expected = {r["customer_id"]: r for r in _window_from_every_day(built)}
    assert slid["C3"]["recent_usage_day_count"] == 1, "C3's first day did not leave the window"
    assert slid["C3"]["experience_score_sum"] == expected["C3"]["experience_score_sum"] + planted, (
        "C3 (no day written since) was not slid from its last sums"
    )
    assert slid.pop("C1") == expected.pop("C1"), "C1 (a day written since) was not summed again whole"
    for row in (slid.pop("C3"), expected.pop("C3")):
        del row["experience_score_sum"], row["network_experience_score"]
    assert slid == expected

    _build(dbt_database, *build)  # the as-of day of the data again: it moved back, the window is summed whole
    assert _recorded(built, window)["as_of_date"] == as_of.isoformat()
    assert built.execute(f"select * from {window} order by customer_id").fetchall() == _window_from_every_day(built)
    built.execute(plant, (["C3"],))
    _build(dbt_database, "--select", window.split(".")[1], "--full-refresh")
    assert built.execute(f"select * from {window} order by customer_id").fetchall() == _window_from_every_day(built)


@pytest.mark.integration
def test_facts_of_a_vanished_customer_are_deleted_and_the_day_recorded(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The customer-day facts keep no day of a customer dim_customers no longer has, however old, and
    record the first day deleted in `changed_since`, so the next build's copy of the published facts
    is brought up to it (publish.begin)."""
    facts = "marts_candidate.fct_customer_experience_daily"
    first = built.execute(f"select min(usage_date) as day from {facts}").fetchone()["day"]
    ghost_day = first - timedelta(days=30)
    built.execute(
        f"insert into {facts} (customer_day_id, customer_id, usage_date) values ('GHOST@{ghost_day}', 'GHOST', %s)",
        (ghost_day,),
    )
    record = _recorded(built, facts) | {"since_run": "t/1", "changed_since": "infinity"}
    built.execute(f"comment on table {facts} is '{json.dumps(record)}'")
    _build(dbt_database, "--select", "fct_customer_experience_daily")
    assert built.execute(f"select count(*) as n from {facts} where customer_id = 'GHOST'").fetchone() == {"n": 0}
    assert _recorded(built, facts)["changed_since"] == ghost_day.isoformat()


@pytest.mark.integration
def test_vanished_customers_are_found_through_the_published_customer_360(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """With a published dim_customers, the facts' post-hook compares it with the CRM's customers: the
    days of a published customer the CRM no longer has are deleted (and `changed_since` lowered),
    and the facts are not searched for others, which no published build can have left there
    (macros/delete_vanished_customers.sql)."""
    from telco_dw.warehouse import publish

    facts, published = "marts_candidate.fct_customer_experience_daily", f"{publish.PUBLISHED}.dim_customers"
    first = built.execute(f"select min(usage_date) as day from {facts}").fetchone()["day"]
    gone_day, stray_day = first - timedelta(days=20), first - timedelta(days=40)
    for customer, day in (("GONE", gone_day), ("STRAY", stray_day)):
        built.execute(
            f"insert into {facts} (customer_day_id, customer_id, usage_date) values (%s, %s, %s)",
            (f"{customer}@{day}", customer, day),
        )
    record = _recorded(built, facts) | {"since_run": "t/1", "changed_since": "infinity"}
    built.execute(f"comment on table {facts} is '{json.dumps(record)}'")
    built.execute(f"create schema if not exists {publish.PUBLISHED}")
    built.execute(f"create table {published} as select customer_id from marts_candidate.dim_customers")
    try:
        built.execute(f"insert into {published} values ('GONE')")
        _build(dbt_database, "--select", "fct_customer_experience_daily")
        left = built.execute(
            f"select customer_id, count(*) as n from {facts} where customer_id in ('GONE', 'STRAY') group by 1"
        )
        assert {r["customer_id"]: r["n"] for r in left} == {"STRAY": 1}
        assert _recorded(built, facts)["changed_since"] == gone_day.isoformat()
    finally:
        built.execute(f"drop table {published}")
        built.execute(f"delete from {facts} where customer_id = 'STRAY'")


@pytest.mark.integration
def test_tables_built_in_full_are_analysed_and_merges_are_left_to_autovacuum(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """`analyze_built()`, every layer's post-hook: a table built in full gets planner statistics; an
    incremental table that a run merged days into, or appended the rows of changed customers to, is
    not analysed again (`last_analyze`: autovacuum's analyses, which may come at any time, are
    `last_autoanalyze`), but for the staged subscriptions, whose versions landed since the last run
    the customer-days join (the model's post-hook)."""
    kept = ("fct_customer_experience_daily", "int_customer_months_billed")

    def analysed() -> dict[str, Any]:  # the latest analyze of each table that was not autovacuum's
        rows = built.execute(
            "select relname, last_analyze from pg_stat_user_tables where relname in ('stg_crm__customers', "
            "'stg_crm__subscriptions', 'fct_customer_experience_daily', 'int_customer_months_billed')"
        )
        return {r["relname"]: r["last_analyze"] for r in rows}

    before = analysed()
    assert all(before[name] is not None for name in kept), f"the full build did not analyse {kept}: {before}"
    started = built.execute("select clock_timestamp() as t").fetchone()["t"]
    # the customer-months with what they read: a build of them alone reads their upstream tables as they
    # stand, and records that it read the changes landed since
    _build(dbt_database, "--select", "+int_customer_months_billed", *kept)
    after = analysed()
    assert _recorded(built, "marts_candidate.fct_customer_experience_daily")["merged_since"] is not None
    assert {name: after[name] for name in kept} == {name: before[name] for name in kept}
    assert after["stg_crm__customers"] > before["stg_crm__customers"]
    assert after["stg_crm__subscriptions"] is not None and after["stg_crm__subscriptions"] > started


@pytest.mark.integration
def test_staging_merged_by_key_keeps_the_latest_version_of_what_landed_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """A run merges the payments landed since into the staged table (the same table, not a rebuilt
    one): a new version replaces the kept one, a new payment is added, and an older version
    redelivered later does not replace the newer one kept."""
    staged = "staging.stg_billing__payments"
    table_before = _table_oid(built, staged)
    built.execute(
        _batches(
            "insert into raw_billing.payments values "
            "('Y1','I1',94.34,'pending',null,'2026-09-05 00:00+00','b9','2026-10-03','f9',1),"
            "('Y3','I3',20.14,'settled','2026-02-26 00:00+00','2026-02-26 00:00+00','b9','2026-10-03','f9',2),"
            "('Y4','I2',105.08,'pending',null,'2026-10-02 00:00+00','b9','2026-10-03','f9',3)"
        )
    )
    try:
        _build(dbt_database, "--select", "stg_billing__payments")
        rows = built.execute(f"select payment_id, payment_status, _loaded_at::date::text as loaded from {staged}")
        assert {r["payment_id"]: (r["payment_status"], r["loaded"]) for r in rows} == {
            "Y1": ("late", "2026-10-02"),
            "Y3": ("settled", "2026-10-03"),
            "Y4": ("pending", "2026-10-03"),
        }
        assert _table_oid(built, staged) == table_before
    finally:
        built.execute("delete from raw_billing.payments where _source_file = 'f9'")
        _build(dbt_database, "--select", "stg_billing__payments", "--full-refresh")


@pytest.mark.integration
def test_invoices_paid_recount_the_invoices_with_a_payment_landed_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """`int_invoices_paid` merges by invoice: a run recounts, from all its payments, the invoice that a
    payment landed since belongs to (a second payment of I3, settled: one failed, one settled), and
    rewrites no other invoice; its counts are those of every staged payment, invoice by invoice."""
    paid = "intermediate.int_invoices_paid"
    counted = (
        "select invoice_id, count(*) filter (where payment_status = 'settled') as settled, "
        "count(*) filter (where payment_status = 'late') as late, "
        "count(*) filter (where payment_status = 'failed') as failed from staging.stg_billing__payments "
        "group by 1 order by 1"
    )
    before = {r["invoice_id"]: r["xmin"] for r in built.execute(f"select invoice_id, xmin::text from {paid}")}
    built.execute(
        _batches(
            "insert into raw_billing.payments values "
            "('Y5','I3',20.14,'settled','2026-02-27 00:00+00','2026-02-27 00:00+00','b9','2026-10-05','f9',1)"
        )
    )
    try:
        _build(dbt_database, "--select", "stg_billing__payments", "int_invoices_paid")
        after = {r["invoice_id"]: r["xmin"] for r in built.execute(f"select invoice_id, xmin::text from {paid}")}
        assert {k for k in before if after[k] != before[k]} == {"I3"}
        recounted = built.execute(
            f"select invoice_id, settled_payment_count as settled, late_payment_count as late, "
            f"failed_payment_count as failed from {paid} "
            "where invoice_id in (select invoice_id from staging.stg_billing__payments) order by 1"
        ).fetchall()
        assert recounted == built.execute(counted).fetchall()
        assert {"invoice_id": "I3", "settled": 1, "late": 0, "failed": 1} in recounted
    finally:
        built.execute("delete from raw_billing.payments where _source_file = 'f9'")
        _build(dbt_database, "--select", "stg_billing__payments", "int_invoices_paid", "--full-refresh")


@pytest.mark.integration
def test_staging_merged_by_key_tests_the_rows_it_merged(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """A run records the latest `_loaded_at` the table held before it (`landed_after`), and its data
    tests read the rows landed after it: a bad row kept from before passes the run's tests and fails a
    `dbt test` of the whole table; a bad row landed since fails the run."""
    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    staged = "staging.stg_billing__payments"
    latest = built.execute(f"select max(_loaded_at) as at from {staged}").fetchone()["at"]
    built.execute(
        f"insert into {staged} (payment_id, invoice_id, payment_status, amount, _loaded_at) "
        "values ('Z0', 'I1', 'bogus', 1, '2026-09-01 00:00+00')"
    )
    try:
        _build(dbt_database, "--select", "stg_billing__payments")  # its tests pass: the bad row is kept
        assert datetime.fromisoformat(_recorded(built, staged)["landed_after"]) == latest

        with pytest.raises(UserError, match="dbt test"):
            dbt.run(["test", "--select", "stg_billing__payments"], dbt_database)  # the whole table

        built.execute(f"delete from {staged} where payment_id = 'Z0'")
        built.execute(
            _batches(
                "insert into raw_billing.payments values "
                "('Z1','I1',1.00,'bogus',null,'2026-10-03 00:00+00','b9','2026-10-04','f9',1)"
            )
        )
        with pytest.raises(UserError, match="dbt build"):
            _build(dbt_database, "--select", "stg_billing__payments")
    finally:
        built.execute(f"delete from {staged} where payment_id = 'Z0'")
        built.execute("delete from raw_billing.payments where _source_file = 'f9'")
        _build(dbt_database, "--select", "stg_billing__payments", "--full-refresh")


@pytest.mark.integration
def test_customer_months_build_again_the_month_in_progress_and_the_months_of_changed_customers(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """A run of the customer-months builds again every month of the customers with a change landed
    since (a CRM record: C2 moves; a payment of an old invoice: C1's) and rewrites no other row, not
    even the month in progress (a row keeps the days of service, not the days as observed): C3's
    rows stay. When the data's last day passes a customer's first activation (C7, reported in
    advance), that customer's month in progress gains its row, and loses it when the day moves back;
    a month observed anew is built for every customer. A churn reported late removes the months
    after it. The billing aggregates build again the customer of the payment (C1) and no other; the
    subscription aggregates the customer of a subscription landed (C7, then C3) and no other. A
    billing account moved to another customer (C2's to C3) builds both again. Each time the tables
    (and the spine, built by the same rules) equal a build in full."""
    months, billing = "intermediate.int_customer_months_billed", "intermediate.int_billing_aggregated_to_customers"
    spine = "intermediate.int_customer_months_spined"
    subscribed = "intermediate.int_subscriptions_aggregated_to_customers"
    build = ("--select", "+int_customer_months_billed", "int_billing_aggregated_to_customers")

    def rows(column: str = "xmin") -> dict[str, str]:
        found = built.execute(f"select customer_month_id as id, {column}::text as v from {months}")
        return {r["id"]: r["v"] for r in found}

    def versions(table: str) -> dict[str, str]:
        return {r["customer_id"]: r["xmin"] for r in built.execute(f"select customer_id, xmin::text from {table}")}

    def rewritten(now: dict[str, str], before: dict[str, str]) -> set[str]:
        """The keys whose row version (or value) ``now`` is not the one ``before``: rewritten, new or gone."""
        return {k for k in now.keys() | before.keys() if before.get(k) != now.get(k)}

    def contents() -> list[list[dict[str, Any]]]:
        tables = (months, billing, spine, subscribed)
        return [built.execute(f"select * from {table} order by 1").fetchall() for table in tables]

    def in_full(*args: str) -> list[list[dict[str, Any]]]:
        _build(
            dbt_database,
            "--select",
            "int_customer_months_spined",
            "int_customer_months_billed",
            "int_billing_aggregated_to_customers",
            "int_subscriptions_aggregated_to_customers",
            "--full-refresh",
            *args,
        )
        return contents()

    _build(dbt_database, *build)  # the full build of the tests before, then a run: both record what they read
    before, billed_before, subscribed_before = rows(), versions(billing), versions(subscribed)
    in_progress = built.execute("select max(month_start_date) as m from intermediate.int_months_observed")
    month = in_progress.fetchone()["m"].strftime("%Y-%m")
    built.execute(
        _batches(
            "insert into raw_crm.customers values ('C2','李四','F','2010-03-01',null,null,null,'浙江','杭州',null,"
            "'2025-06-30 23:30+00','2026-09-30 08:00+00','b21','2026-12-05 08:00+00','f21',1);"
            "insert into raw_billing.payments values "
            "('Y21','I1',5.00,'settled','2026-09-28 00:00+00','2026-09-28 00:00+00','b21',"
            "'2026-12-05 08:00+00','f21',1)"
        )
    )
    try:
        _build(dbt_database, *build)
        months_rewritten = rewritten(rows(), before)
        changed = {k for k in before if k.startswith(("C1|", "C2|"))}
        assert months_rewritten == changed
        assert f"C3|{month}" in before and f"C3|{month}" not in months_rewritten, "an unchanged month in progress"
        assert set(rows("region").values()) - {"广东", "上海"} == {"浙江"}
        assert rewritten(versions(billing), billed_before) == {"C1"}
        assert versions(subscribed) == subscribed_before, "a subscription aggregate rewritten without a subscription"
        merged = contents()
        assert merged == in_full()

        # C7's subscription, reported in advance: in service from three days after the data's last day
        last_day = built.execute("select max(observed_through_date) as d from intermediate.int_months_observed")
        last_day = last_day.fetchone()["d"]
        built.execute(
            _batches(
                "insert into raw_crm.customers values ('C7','王五','M','1985-01-01',null,null,null,'广东','深圳',null,"
                f"'{last_day}','{last_day}','b26','2026-12-05 08:30+00','f26',1);"
                "insert into raw_crm.subscriptions values ('S7','C7','13800138007','P19','畅享19元套餐',19,0,"
                f"'active','{last_day + timedelta(days=3)} 10:00+00',null,null,'{last_day}','b26',"
                "'2026-12-05 08:30+00','f26',1)"
            )
        )
        subscribed_before = versions(subscribed)
        _build(dbt_database, *build)
        assert not {k for k in rows() if k.startswith("C7|")}, "C7 has a month before its activation"
        assert rewritten(versions(subscribed), subscribed_before) == {"C7"}
        moved_on = last_day + timedelta(days=5)
        later = ("--exclude", "test_type:unit", "--vars", f"{{as_of_date: '{moved_on}'}}")  # unit tests: var unset
        before = rows()
        _build(dbt_database, *build, *later)
        months_rewritten = rewritten(rows(), before)
        new_month = moved_on.strftime("%Y-%m")
        assert f"C7|{new_month}" in months_rewritten, "C7's month in progress did not gain its row"
        if new_month == month:  # the same month: only C7's row is new
            assert months_rewritten == {f"C7|{month}"}
        else:  # a month observed anew: built for every customer in service, no older row rewritten
            assert all(k.endswith(new_month) for k in months_rewritten) and f"C3|{new_month}" in months_rewritten
        assert contents() == in_full(*later)
        _build(dbt_database, *build)  # the data's last day again: C7's row goes
        assert not {k for k in rows() if k.startswith("C7|")}, "C7's row stayed after the last day moved back"
        merged = contents()
        assert merged == in_full()

        built.execute(  # C3's subscription reported churned in May, late: the months after it go
            _batches(
                "insert into raw_crm.subscriptions values ('S3','C3','13800138003','P19','畅享19元套餐',19,0,"
                "'churned','2023-02-01 00:00+00','2026-05-10 00:00+00','voluntary','2026-05-10 00:00+00',"
                "'b22','2026-12-05 09:00+00','f22',1)"
            )
        )
        subscribed_before = versions(subscribed)
        _build(dbt_database, *build)
        assert rewritten(versions(subscribed), subscribed_before) == {"C3"}
        kept = rows()
        assert "C3|2026-05" in kept and not {f"C3|2026-0{m}" for m in (6, 7, 8, 9)} & kept.keys()
        merged = contents()
        assert merged == in_full()

        built.execute(  # C2's billing account (its invoice I3) moves to C3: both customers change
            _batches(
                "insert into raw_billing.accounts values ('A2','C3','bank_card','6222020200445566',"
                "'2025-07-01 00:00+00','2026-12-05 09:30+00','b27','2026-12-05 09:30+00','f27',1)"
            )
        )
        before, billed_before = rows(), versions(billing)
        _build(dbt_database, *build)
        assert rewritten(versions(billing), billed_before) == {"C2", "C3"}
        now = rows()
        assert rewritten(now, before) == {k for k in now.keys() | before.keys() if k.startswith(("C2|", "C3|"))}
        merged = contents()
        assert merged == in_full()
    finally:
        built.execute("delete from raw_billing.accounts where _source_file = 'f27'")
        built.execute("delete from raw_crm.customers where _source_file in ('f21', 'f26')")
        built.execute("delete from raw_crm.subscriptions where _source_file = 'f26'")
        built.execute("delete from raw_crm.subscriptions where _source_file = 'f22'")
        built.execute("delete from raw_billing.payments where _source_file = 'f21'")
        _build(dbt_database, *build, "--full-refresh")


@pytest.mark.integration
def test_appended_tables_refuse_a_repeated_key_and_their_key_test_needs_the_index(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The tables a run appends to hold their key by a unique index: PostgreSQL refuses a row that
    repeats one, and the key's data test (`unique_by_index`) fails once the index is gone."""
    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    appended = (
        "int_customer_months_spined",
        "int_customer_months_billed",
        "int_billing_aggregated_to_customers",
        "int_subscriptions_aggregated_to_customers",
    )
    for table in appended:
        with pytest.raises(psycopg.errors.UniqueViolation):
            built.execute(f"insert into intermediate.{table} select * from intermediate.{table} limit 1")
    key_test = ["test", "--select", "int_customer_months_spined,test_name:unique_by_index"]
    dbt.run(key_test, dbt_database)
    index = built.execute(
        "select indexname, indexdef from pg_indexes where schemaname = 'intermediate' "
        "and tablename = 'int_customer_months_spined' and indexname = 'int_customer_months_spined__key'"
    ).fetchone()
    built.execute(f'drop index intermediate."{index["indexname"]}"')
    try:
        with pytest.raises(UserError, match="dbt test"):
            dbt.run(key_test, dbt_database)
    finally:
        built.execute(index["indexdef"])


@pytest.mark.integration
def test_tables_built_in_full_hold_their_key_by_a_unique_index_and_a_repeated_key_fails_the_model(
    built: psycopg.Connection[dict[str, Any]],
    dbt_database: str,
    manifest: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every table built in full has a unique index on its key (`key_index()`), and the snapshot on
    its version key. A repeated key reaching one (`dim_customers`, from an RFM score repeated
    upstream, behind that table's own index) fails the model, naming the index and the key, and the
    table stays as the build before left it."""
    from telco_dw.errors import UserError
    from telco_dw.transform import dbt

    tables = [m for m in _models(manifest) if m["config"]["materialized"] == "table"]
    assert len(tables) > 10
    indexes = {r["indexname"]: r["indexdef"] for r in built.execute("select indexname, indexdef from pg_indexes")}
    for model in [*tables, *(n for n in manifest["nodes"].values() if n["resource_type"] == "snapshot")]:
        key = "dbt_scd_id" if model["resource_type"] == "snapshot" else next(iter(model["columns"]))
        definition = indexes.get(f"{model['name']}__key", "")
        assert definition.startswith(f"CREATE UNIQUE INDEX {model['name']}__key ON {model['schema']}."), model["name"]
        assert definition.endswith(f"({key})"), definition

    table = "marts_candidate.dim_customers"
    before = built.execute(f"select customer_id, rfm_segment from {table} order by 1").fetchall()
    built.execute("drop index intermediate.int_customers_rfm_scored__key")
    built.execute(
        "insert into intermediate.int_customers_rfm_scored select * from intermediate.int_customers_rfm_scored limit 1"
    )
    try:
        with caplog.at_level("INFO", logger="telco_dw.transform.dbt"), pytest.raises(UserError):
            dbt.run(["run", "--select", "dim_customers"], dbt_database)
        assert 'could not create unique index "dim_customers__key"' in caplog.text
        assert "Key (customer_id)=" in caplog.text and "is duplicated" in caplog.text
        assert built.execute(f"select customer_id, rfm_segment from {table} order by 1").fetchall() == before
    finally:
        _build(dbt_database, "--select", "int_customers_rfm_scored", "dim_customers")


@pytest.mark.integration
def test_a_production_build_leaves_out_the_unit_tests_a_development_build_runs(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """dbt's unit tests check the models' SQL on fixed inputs: a development build (these tests',
    `telco-dw dbt build`) runs them before their model; a production build (`telco-dw rebuild`, the
    transform DAG, the benchmark: `dbt.PRODUCTION_ENV`) builds the model and its data tests without."""
    from telco_dw import config
    from telco_dw.transform import dbt

    def results() -> dict[str, str]:
        found = json.loads((config.load().dbt_target / "run_results.json").read_text(encoding="utf-8"))
        return {
            r["unique_id"].split(".")[0] + ":" + r["unique_id"].split(".")[-1]: r["status"] for r in found["results"]
        }

    selection = ["build", "--select", "int_tickets_timed"]
    dbt.run(selection, dbt_database)
    development = results()
    assert development["unit_test:int_tickets_timed_sla_at_exactly_24_and_48_hours"] == "pass"
    assert development["model:int_tickets_timed"] == "success"
    dbt.run(selection, dbt_database, production=True)
    production = results()
    assert production["model:int_tickets_timed"] == "success"
    assert not [n for n in production if n.startswith("unit_test:")], production
    assert {n for n in production if n.startswith("test:")} == {n for n in development if n.startswith("test:")}


@pytest.mark.integration
def test_a_full_refresh_keeps_the_indexes_of_the_tables_it_replaces(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The post-hooks' indexes are there after a `--full-refresh` of a table that existed: dbt keeps
    the replaced table (and its indexes' names) until the build commits, and `create index if not
    exists` skipped them (macros/table_index.sql)."""
    expected = {
        "stg_billing__invoices": {"stg_billing__invoices__key", "stg_billing__invoices__loaded_at"},
        "stg_network__cell_kpi_hourly": {"stg_network__cell_kpi_hourly__merge_window"},
        "int_billing_aggregated_to_customers": {"int_billing_aggregated_to_customers__customer"},
    }

    def indexes() -> dict[str, set[str]]:
        found = built.execute(
            "select tablename, indexname from pg_indexes where tablename = any(%s)", (list(expected),)
        ).fetchall()
        return {t: {r["indexname"] for r in found if r["tablename"] == t} for t in expected}

    assert all(names <= indexes()[t] for t, names in expected.items())
    _build(dbt_database, "--select", *expected, "--full-refresh")
    assert all(names <= indexes()[t] for t, names in expected.items()), indexes()


@pytest.mark.integration
def test_staged_subscriptions_merge_the_versions_landed_since_and_follow_privacy_nulls(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The subscriptions are merged by key: a run tokenises the versions landed since (a plan change
    replaces the kept version, an older version redelivered does not) and rewrites no other row; a
    kept version whose landed number privacy nulled since loses its token at the next run. Each time
    the table equals a rebuild."""
    staged = "staging.stg_crm__subscriptions"
    content = f"select subscription_id as id, plan_code, msisdn_token from {staged}"

    def rows() -> dict[str, dict[str, Any]]:
        return _rows_by_key(built, staged, "subscription_id")

    def rebuilt() -> list[dict[str, Any]]:
        _build(dbt_database, "--select", "stg_crm__subscriptions", "--full-refresh")
        return sorted(built.execute(content), key=lambda r: r["id"])

    before = rows()
    built.execute(
        _batches(
            "insert into raw_crm.subscriptions values "
            "('S1','C1','13800138001','P199','5G尊享199元套餐',199,24,'active','2024-01-10 08:00+00',null,null,"
            "'2026-10-02 08:00+00','b9','2026-12-07 08:00+00','f9',1),"
            "('S3','C3','13800138003','P59','畅享59元套餐',59,12,'active','2023-02-01 00:00+00',null,null,"
            "'2022-01-01 00:00+00','b9','2026-12-07 08:00+00','f9',2)"
        )
    )
    try:
        _build(dbt_database, "--select", "stg_crm__subscriptions")
        merged = rows()
        assert merged.keys() == before.keys()
        assert (merged["S1"]["plan_code"], merged["S1"]["msisdn_token"]) == ("P199", before["S1"]["msisdn_token"])
        assert merged["S3"]["plan_code"] == before["S3"]["plan_code"] == "P19"  # the older version redelivered
        assert {k for k in merged if merged[k]["xmin"] != before[k]["xmin"]} == {"S1", "S3"}
        merged_content = sorted(built.execute(content), key=lambda r: r["id"])
        assert merged_content == rebuilt()

        built.execute("update raw_crm.subscriptions set msisdn = null where subscription_id = 'S1'")
        _build(dbt_database, "--select", "stg_crm__subscriptions")
        nulled = rows()
        assert nulled["S1"]["msisdn_token"] is None
        assert all(nulled[k]["msisdn_token"] == before[k]["msisdn_token"] for k in nulled if k != "S1")
        nulled_content = sorted(built.execute(content), key=lambda r: r["id"])
        assert nulled_content == rebuilt()

        # staged by an earlier telco-dw, without the landed rows: staged again whole, once
        built.execute(f"alter table {staged} drop column _batch_id, drop column _row_number")
        _build(dbt_database, "--select", "stg_crm__subscriptions")
        assert built.execute(f"select count(*) as n from {staged} where _row_number is null").fetchone()["n"] == 0
        assert sorted(built.execute(content), key=lambda r: r["id"]) == nulled_content
    finally:
        built.execute("update raw_crm.subscriptions set msisdn = '13800138001' where subscription_id = 'S1'")
        built.execute("delete from raw_crm.subscriptions where _source_file = 'f9'")
        _build(dbt_database, "--select", "stg_crm__subscriptions", "--full-refresh")


@pytest.mark.integration
def test_staged_survey_answers_merge_the_answers_landed_since_and_follow_privacy_nulls(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The survey answers are merged by key: a run scrubs the answers landed since (a later export of
    R1 replaces the kept answer, an earlier export of R4 redelivered does not, a new answer R6 is
    added) and rewrites no other row; a kept answer whose landed comment privacy nulled since loses
    its scrubbed comment at the next run. Each time the table equals a rebuild."""
    staged = "staging.stg_survey__responses"
    content = (
        f"select answer_id, score, comment_length, has_comment, comment_scrubbed, export_id from {staged} order by 1"
    )

    def rows() -> dict[str, dict[str, Any]]:
        return _rows_by_key(built, staged, "answer_id")

    def rebuilt() -> list[dict[str, Any]]:
        _build(dbt_database, "--select", "stg_survey__responses", "--full-refresh")
        return built.execute(content).fetchall()

    before = rows()
    built.execute(
        _batches(
            "insert into raw_survey.responses values "
            "('R1','C1','13800138001','nps','relationship',null,'2026-09-01 10:00+00','likelihood_to_recommend',"
            "10,10,'打 13912345678 找我','wenjuan','E8','2026-10-05 01:00+00','b44','2026-12-08 04:00+00','f44',1),"
            "('R4','C2','13800138002','nps','relationship',null,'2026-02-20 10:00+00','likelihood_to_recommend',"
            "0,10,null,'wenjuan','E0','2026-02-21 01:00+00','b44','2026-12-08 04:00+00','f44',2),"
            "('R6','C3','13800138003','nps','relationship',null,'2026-10-01 10:00+00','likelihood_to_recommend',"
            "8,10,'ok','wenjuan','E8','2026-10-05 01:00+00','b44','2026-12-08 04:00+00','f44',3)"
        )
    )
    r1, r4, r6 = (f"{r}:likelihood_to_recommend" for r in ("R1", "R4", "R6"))
    try:
        _build(dbt_database, "--select", "stg_survey__responses")
        merged = rows()
        assert merged.keys() == before.keys() | {r6}
        assert (merged[r1]["score"], merged[r1]["comment_scrubbed"]) == (10, "打 [mobile] 找我")
        assert (merged[r4]["score"], merged[r4]["has_comment"]) == (7, True)  # the earlier export redelivered
        assert {k for k in before if merged[k]["xmin"] != before[k]["xmin"]} == {r1, r4}
        assert built.execute(content).fetchall() == rebuilt()

        built.execute("update raw_survey.responses set comment = null where response_id = 'R4'")
        _build(dbt_database, "--select", "stg_survey__responses")
        nulled = rows()
        assert (nulled[r4]["has_comment"], nulled[r4]["comment_length"], nulled[r4]["comment_scrubbed"]) == (
            False,
            0,
            None,
        )
        assert all(nulled[k]["comment_scrubbed"] == merged[k]["comment_scrubbed"] for k in nulled if k != r4)
        nulled_content = built.execute(content).fetchall()
        assert nulled_content == rebuilt()
    finally:
        built.execute(
            "update raw_survey.responses set comment = '还行 call me 13800138002' "
            "where _source_file = 'f1' and response_id = 'R4'"
        )
        built.execute("delete from raw_survey.responses where _source_file = 'f44'")
        _build(dbt_database, "--select", "stg_survey__responses", "--full-refresh")


@pytest.mark.integration
def test_survey_aggregates_build_again_the_respondents_of_the_answers_landed_since(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The survey aggregates are customer-keyed: a run deletes and appends again the respondents of
    the answers landed since (C2's new NPS answer: its count and last NPS) and rewrites no other
    customer; the table then equals a build in full."""
    aggregated = "intermediate.int_survey_responses_aggregated_to_customers"
    chain = (
        "--select",
        "stg_survey__responses",
        "int_survey_responses_scored",
        "int_survey_responses_aggregated_to_customers",
    )

    def versions() -> dict[str, str]:
        return {r["customer_id"]: r["xmin"] for r in built.execute(f"select customer_id, xmin::text from {aggregated}")}

    _build(dbt_database, *chain)  # a run after the full build: it records what it read
    before = versions()
    counted = built.execute(f"select survey_response_count as n from {aggregated} where customer_id = 'C2'")
    count_before = counted.fetchone()["n"]
    built.execute(
        _batches(
            "insert into raw_survey.responses values "
            "('R7','C2','13800138002','nps','relationship',null,'2026-10-03 10:00+00','likelihood_to_recommend',"
            "10,10,null,'wenjuan','E9','2026-10-05 01:00+00','b45','2026-12-08 05:00+00','f45',1)"
        )
    )
    try:
        _build(dbt_database, *chain)
        now = versions()
        assert {k for k in now.keys() | before.keys() if now.get(k) != before.get(k)} == {"C2"}
        c2 = built.execute(
            f"select survey_response_count as n, last_nps_score, last_nps_category from {aggregated} "
            "where customer_id = 'C2'"
        ).fetchone()
        assert (c2["n"], c2["last_nps_score"], c2["last_nps_category"]) == (count_before + 1, 10, "promoter")
        merged = built.execute(f"select * from {aggregated} order by 1").fetchall()
        _build(dbt_database, "--select", "int_survey_responses_aggregated_to_customers", "--full-refresh")
        assert merged == built.execute(f"select * from {aggregated} order by 1").fetchall()
    finally:
        built.execute("delete from raw_survey.responses where _source_file = 'f45'")
        _build(dbt_database, *chain, "--full-refresh")


@pytest.mark.integration
def test_staged_accounts_merge_the_versions_landed_since_and_keep_every_former_owner(
    built: psycopg.Connection[dict[str, Any]], dbt_database: str
) -> None:
    """The billing accounts are merged by key: a run merges the versions landed since into the same
    table and rewrites no other account. An account that moves (A2: C2's, then C3's, then C1's)
    keeps every customer it moved from in `former_customer_ids`, though each run reads only the
    versions landed since; an older version redelivered later changes neither its owner nor its
    former owners. Each time the table equals a rebuild from every raw version."""
    staged = "staging.stg_billing__accounts"
    content = f"select account_id, customer_id, former_customer_ids, pay_method, updated_at from {staged} order by 1"

    def rows() -> dict[str, dict[str, Any]]:
        return _rows_by_key(built, staged, "account_id")

    def land(customer_id: str, updated_at: str, batch: int) -> None:
        built.execute(
            _batches(
                f"insert into raw_billing.accounts values ('A2','{customer_id}','wechat','6222020200445566',"
                f"'2025-07-01 00:00+00','{updated_at}','b{batch}','2026-12-08 0{batch - 40}:00+00','f{batch}',1)"
            )
        )

    def rebuilt() -> list[dict[str, Any]]:
        _build(dbt_database, "--select", "stg_billing__accounts", "--full-refresh")
        return built.execute(content).fetchall()

    table_before = _table_oid(built, staged)
    before = rows()
    try:
        land("C3", "2026-12-01 00:00+00", 41)
        _build(dbt_database, "--select", "stg_billing__accounts")
        merged = rows()
        assert (merged["A2"]["customer_id"], merged["A2"]["former_customer_ids"]) == ("C3", ["C2"])
        assert {k for k in merged if merged[k]["xmin"] != before[k]["xmin"]} == {"A2"}
        assert _table_oid(built, staged) == table_before

        land("C1", "2026-12-02 00:00+00", 42)  # moves again: the run reads only this version
        _build(dbt_database, "--select", "stg_billing__accounts")
        assert rows()["A2"]["customer_id"] == "C1"
        assert sorted(rows()["A2"]["former_customer_ids"]) == ["C2", "C3"]
        land("C2", "2025-08-01 00:00+00", 43)  # an older version, redelivered
        _build(dbt_database, "--select", "stg_billing__accounts")
        merged = rows()
        assert (merged["A2"]["customer_id"], merged["A2"]["pay_method"]) == ("C1", "wechat")
        assert sorted(merged["A2"]["former_customer_ids"]) == ["C2", "C3"]
        merged_content = built.execute(content).fetchall()
        assert merged_content == rebuilt()
    finally:
        built.execute("delete from raw_billing.accounts where _source_file in ('f41', 'f42', 'f43')")
        _build(dbt_database, "--select", "stg_billing__accounts", "--full-refresh")


@pytest.mark.integration
def test_build_with_every_raw_table_empty(dbt_database: str) -> None:
    with psycopg.connect(dbt_database, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(_raw_tables())}")
    _build(dbt_database)
    with psycopg.connect(dbt_database) as conn:
        assert conn.execute("select count(*) from marts_candidate.dim_customers").fetchone() == (0,)

"""The GX quality gate against a real PostgreSQL: suite ``marts.dim_customers`` on a scratch table.

Each test gets its own scratch schema ``test_quality_<random>`` holding a small ``dim_customers``
and its own run_id; both, and the evidence rows they produce, are removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

import psycopg
import pytest
from psycopg.rows import dict_row

from telco_dw.errors import UserError
from telco_dw.quality import SuiteSpec, failure_message, get_suite, run_suite

pytestmark = pytest.mark.integration

SENTINEL = "PII-SENTINEL-13800138000"

DDL = """
create table {schema}.dim_customers (
    customer_id             text,
    gender                  text,
    age_band                text,
    province                text,
    city                    text,
    tenure_months           integer,
    monthly_fee             numeric(10, 2),
    subscription_status     text,
    is_churned              boolean,
    churn_type              text,
    last_nps_score          integer,
    last_nps_category       text,
    complaint_count         integer,
    invoice_count           integer,
    billed_amount_excl_tax  numeric(12, 2)
)
"""

CLEAN_ROWS = [
    (
        "C0001",
        "female",
        "25-34",
        "Guangdong",
        "Shenzhen",
        14,
        58.00,
        "active",
        False,
        None,
        9,
        "promoter",
        0,
        14,
        812.00,
    ),
    (
        "C0002",
        "male",
        "35-44",
        "Zhejiang",
        "Hangzhou",
        30,
        128.00,
        "churned",
        True,
        "voluntary",
        3,
        "detractor",
        4,
        30,
        3840.00,
    ),
    ("C0003", "male", "45-54", "Sichuan", "Chengdu", 2, 38.00, "suspended", False, None, None, None, 1, 2, 76.00),
    (
        "C0004",
        "female",
        "18-24",
        "Beijing",
        "Beijing",
        0,
        19.00,
        "churned",
        True,
        "involuntary",
        7,
        "passive",
        0,
        0,
        0.00,
    ),
]


@dataclass(frozen=True)
class Scratch:
    url: str
    schema: str
    spec: SuiteSpec
    run_id: str

    def insert(self, rows: list[tuple[object, ...]]) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                f"insert into {self.schema}.dim_customers values ({', '.join(['%s'] * 15)})",
                rows,
            )

    def evidence(self) -> list[dict[str, object]]:
        with psycopg.connect(self.url) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "select * from audit.dq_results where run_id = %s order by expectation",
                (self.run_id,),
            )
            return cur.fetchall()


@pytest.fixture(scope="session")
def dim_customers_spec() -> SuiteSpec:
    return get_suite("marts.dim_customers")


@pytest.fixture
def scratch(warehouse_url: str, dim_customers_spec: SuiteSpec) -> Iterator[Scratch]:
    schema = f"test_quality_{uuid.uuid4().hex[:10]}"
    run_id = f"test_quality/{schema}"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        conn.execute(DDL.format(schema=schema))
    yield Scratch(warehouse_url, schema, dim_customers_spec.targeting(schema=schema), run_id)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")
        if conn.execute("select to_regclass('audit.dq_results') is not null").fetchone()[0]:
            conn.execute("delete from audit.dq_results where run_id = %s", (run_id,))


def _suite_size(spec: SuiteSpec) -> int:
    return len(spec.suite().expectations)


def test_clean_table_passes_and_records_one_row_per_expectation(scratch: Scratch) -> None:
    scratch.insert(CLEAN_ROWS)

    outcome = run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert outcome.passed, failure_message(outcome)
    assert not outcome.critical_failures and not outcome.warnings
    assert outcome.table == f"{scratch.schema}.dim_customers"
    rows = scratch.evidence()
    assert len(rows) == len(outcome.results) == _suite_size(scratch.spec)
    assert all(r["success"] for r in rows)
    assert {r["severity"] for r in rows} == {"critical", "warning"}
    assert {r["suite"] for r in rows} == {"marts.dim_customers"}
    assert {r["table_name"] for r in rows} == {outcome.table}
    row_count = next(r for r in rows if r["expectation"].startswith("expect_table_row_count_to_be_between"))
    assert row_count["observed_value"] == str(len(CLEAN_ROWS))


def test_rerun_of_the_same_run_replaces_its_evidence(scratch: Scratch) -> None:
    scratch.insert(CLEAN_ROWS)

    first = run_suite(scratch.url, scratch.spec, scratch.run_id)
    run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert len(scratch.evidence()) == len(first.results)


def test_duplicate_customer_id_fails_critically_with_a_useful_message(scratch: Scratch) -> None:
    scratch.insert([*CLEAN_ROWS, ("C0001", *CLEAN_ROWS[1][1:])])

    outcome = run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert not outcome.passed
    [failure] = outcome.critical_failures
    assert failure.expectation == "expect_column_values_to_be_unique(column=customer_id)"
    assert failure.observed_value.startswith("2 unexpected of 5 rows")
    message = failure_message(outcome)
    assert "marts.dim_customers" in message  # suite
    assert "expect_column_values_to_be_unique(column=customer_id)" in message  # expectation
    assert f"{scratch.schema}.dim_customers" in message  # table
    assert "2 unexpected of 5 rows (40.00% of non-null values)" in message  # observed value
    assert "C0001" not in message
    recorded = {r["expectation"]: r for r in scratch.evidence()}
    assert recorded["expect_column_values_to_be_unique(column=customer_id)"]["success"] is False


def test_warning_level_failure_is_recorded_but_does_not_fail(scratch: Scratch) -> None:
    scratch.insert(
        [
            *CLEAN_ROWS,
            ("C0005", "male", "25-34", "Hubei", "Wuhan", -3, 58.00, "active", False, None, 8, "passive", 0, 1, 58.00),
        ]
    )

    outcome = run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert outcome.passed
    [warned] = outcome.warnings
    assert warned.expectation == "expect_column_values_to_be_between(column=tenure_months, min_value=0)"
    recorded = {r["expectation"]: r for r in scratch.evidence()}
    row = recorded[warned.expectation]
    assert row["severity"] == "warning"
    assert row["success"] is False
    assert row["observed_value"] == "1 unexpected of 5 rows (20.00% of non-null values)"


def test_nps_score_out_of_range_is_critical(scratch: Scratch) -> None:
    scratch.insert(
        [
            *CLEAN_ROWS,
            ("C0005", "male", "25-34", "Hubei", "Wuhan", 3, 58.00, "active", False, None, 11, "promoter", 0, 1, 58.00),
        ]
    )

    outcome = run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert [r.expectation for r in outcome.critical_failures] == [
        "expect_column_values_to_be_between(column=last_nps_score, min_value=0, max_value=10)"
    ]


def test_no_row_values_reach_the_evidence(scratch: Scratch) -> None:
    # The sentinel violates a critical check (duplicate key) and warning checks (unknown categories).
    bad = ("C0009", "x", "x", "x", "x", 1, 1.0, "active", True, SENTINEL, 5, SENTINEL, 0, 1, 1.0)
    scratch.insert([*CLEAN_ROWS, (SENTINEL, *bad[1:]), (SENTINEL, *bad[1:])])

    outcome = run_suite(scratch.url, scratch.spec, scratch.run_id)

    assert not outcome.passed
    assert len(outcome.warnings) == 2  # churn_type and last_nps_category out of set
    assert SENTINEL not in failure_message(outcome)
    assert all(SENTINEL not in str(r) for r in outcome.results)
    with psycopg.connect(scratch.url) as conn:
        leaked = conn.execute(
            "select count(*) from audit.dq_results d where d.run_id = %s and d::text like %s",
            (scratch.run_id, f"%{SENTINEL}%"),
        ).fetchone()[0]
    assert leaked == 0
    assert len(scratch.evidence()) == len(outcome.results)
    # nor the Data Docs: GX's stored result and pages, and the index
    from telco_dw import config

    cfg = config.load()
    for folder in (cfg.home / "gx", cfg.docs / "quality"):
        assert not [p for p in folder.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]


def test_the_data_docs_index_links_every_suite_and_opens_offline(scratch: Scratch) -> None:
    import re

    from telco_dw import config
    from telco_dw.quality import all_suites

    scratch.insert(CLEAN_ROWS)
    run_suite(scratch.url, scratch.spec, scratch.run_id)
    site = config.load().docs / "quality"
    index = (site / "index.html").read_text(encoding="utf-8")
    for spec in all_suites():  # declared suites are all listed, run or not
        assert f"<td>{spec.name}</td>" in index
    links = re.findall(r"href='([^']+)'", index)
    assert "latest validation" in index and links
    assert all((site / link).is_file() for link in links), links  # every link opens a page on disk
    assert not [link for link in links if "#" in link or "?" in link]  # a browser would cut the path there
    remote = re.compile(r"<(script|link|img|iframe)[^>]*\b(src|href)=[\"']https?://|url\(['\"]?https?://", re.I)
    pages = [p for p in site.rglob("*") if p.suffix in (".html", ".css")]
    assert pages and not [p for p in pages if remote.search(p.read_text(encoding="utf-8"))]


def test_the_data_docs_are_mirrored_to_an_fsspec_url(scratch: Scratch, tmp_path, caplog) -> None:
    import dataclasses

    import psycopg

    from telco_dw import config
    from telco_dw.quality import docs

    scratch.insert(CLEAN_ROWS)
    run_suite(scratch.url, scratch.spec, scratch.run_id)
    cfg = dataclasses.replace(config.load(), quality_docs_url=f"file://{tmp_path}/evidence/quality")
    with psycopg.connect(scratch.url) as conn:
        docs.publish(conn, cfg)
    local = {p.relative_to(docs.site(cfg)) for p in docs.site(cfg).rglob("*") if p.is_file()}
    mirrored = {
        p.relative_to(tmp_path / "evidence" / "quality") for p in (tmp_path / "evidence").rglob("*") if p.is_file()
    }
    assert local and mirrored == local
    assert docs.mirror(docs.site(cfg), cfg.quality_docs_url) == sum(
        p.name == "index.html" for p in local
    )  # the rest is there

    assert docs.mirror(docs.site(cfg), "sftp://dq:s3cret@127.0.0.1:1/quality") == 0  # logged, never raised
    assert "not copied to sftp://dq:***@127.0.0.1:1/quality" in caplog.text and "s3cret" not in caplog.text


def test_missing_table_is_a_user_error_naming_it(scratch: Scratch) -> None:
    spec = scratch.spec.targeting(table="no_such_table")

    with pytest.raises(UserError, match=rf"{scratch.schema}\.no_such_table.*does not exist"):
        run_suite(scratch.url, spec, scratch.run_id)


def test_operator_fails_the_task_on_critical_failure(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowException
    from telco_dw_gx import GXValidateOperator

    from telco_dw.airflow_env import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_TEST_QUALITY_WAREHOUSE", connection_json(scratch.url))
    operator = GXValidateOperator(
        task_id="validate_marts",
        suite="marts.dim_customers",
        schemas={"marts": scratch.schema},
        conn_id="test_quality_warehouse",
    )
    run_id = scratch.run_id.split("/", 1)[1]
    context = {"ti": SimpleNamespace(dag_id="test_quality"), "run_id": run_id}

    scratch.insert(CLEAN_ROWS)
    summary = operator.execute(context)  # type: ignore[arg-type]
    assert summary["critical_failures"] == 0 and summary["evaluated"] == len(scratch.evidence())

    scratch.insert([CLEAN_ROWS[0]])
    with pytest.raises(AirflowException, match=r"expect_column_values_to_be_unique\(column=customer_id\)"):
        operator.execute(context)  # type: ignore[arg-type]


def test_a_gate_validates_its_suites_together_and_keeps_each_suites_verdict(
    scratch: Scratch, warehouse_url: str
) -> None:
    """One GX context and checkpoint for the whole gate (its fixed cost paid once): the same suite on
    two schemas, one table clean and the other with a duplicate key, each gets its own evidence and
    only the second fails."""
    from telco_dw.quality import gate

    other = f"{scratch.schema}_b"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"create schema {other}")
        conn.execute(DDL.format(schema=other))
    try:
        scratch.insert(CLEAN_ROWS)
        with psycopg.connect(warehouse_url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                f"insert into {other}.dim_customers values ({', '.join(['%s'] * 15)})",
                [*CLEAN_ROWS, ("C0001", *CLEAN_ROWS[1][1:])],
            )
        specs = [scratch.spec, scratch.spec.targeting(schema=other)]

        outcome = gate.validate(scratch.url, specs, scratch.run_id)

        assert [o.table for o in outcome.outcomes] == [f"{scratch.schema}.dim_customers", f"{other}.dim_customers"]
        assert [o.passed for o in outcome.outcomes] == [True, False]
        [failure] = outcome.failures
        assert f"{other}.dim_customers" in failure and "column=customer_id" in failure
        with psycopg.connect(scratch.url) as conn:
            recorded = conn.execute(
                "select table_name, count(*), bool_and(success) from audit.dq_results where run_id = %s "
                "group by 1 order by 1",
                (scratch.run_id,),
            ).fetchall()
        size = _suite_size(scratch.spec)
        assert recorded == [(f"{scratch.schema}.dim_customers", size, True), (f"{other}.dim_customers", size, False)]
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {other} cascade")


def test_pii_suites_cover_each_staging_model_mart_and_snapshot_once() -> None:
    """One ``pii.*`` suite per staging model, mart and snapshot (a snapshot written in SQL is still
    read from its YAML, which lists its token column; its SQL selects ``*``)."""
    from telco_dw import config
    from telco_dw.quality import all_suites

    project = config.load().dbt_project
    names = [s.name for s in all_suites() if s.name.startswith("pii.")]
    expected = {f"pii.staging.{p.stem}" for p in (project / "models" / "staging").rglob("stg_*.sql")}
    expected |= {f"pii.snapshots.{p.stem}" for p in (project / "snapshots").glob("snap_*.sql")}
    assert len(names) == len(set(names)) and expected <= set(names)
    snapshot = next(s for s in all_suites() if s.name == "pii.snapshots.snap_crm__subscriptions")
    assert "msisdn_token" in [e.configuration.kwargs.get("column") for e in snapshot.suite().expectations]


def test_the_pii_check_finds_each_kind_of_personal_value_in_one_read(warehouse_url: str) -> None:
    """``pii.*`` suites match every kind of ``LEAK_SQL_PATTERNS`` with one check (one read of the table):
    a row holding any one kind is unexpected; tokens and ordinary values are not."""
    import hmac
    import random

    from telco_dw.privacy.detect import LEAK_SQL_PATTERNS
    from telco_dw.quality import all_suites
    from telco_dw.simulate import identities as ids

    rng = random.Random(3)
    mobile = ids.mobile(rng)
    personal = {
        "mobile": f"call {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        "email": ids.email(rng),
        "id_card": ids.id_card(rng, date(1990, 5, 1), "F"),
        "imsi_or_imei": ids.imei(rng),
    }
    assert set(personal) == set(LEAK_SQL_PATTERNS)  # a new kind needs a row here
    token = hmac.new(b"k" * 32, mobile.encode(), "sha256").hexdigest()
    spec = next(s for s in all_suites() if s.name == "pii.staging.stg_crm__subscriptions")
    schema = f"test_quality_pii_{uuid.uuid4().hex[:8]}"
    run_id = f"test_quality/{schema}"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        conn.execute(f"create table {schema}.stg_crm__subscriptions (note text, msisdn_token text)")
        rows = [(value, token) for value in personal.values()] + [("plan 5G-128, 128.50 CNY, cell C00042", token)]
        conn.cursor().executemany(f"insert into {schema}.stg_crm__subscriptions values (%s, %s)", rows)
    try:
        outcome = run_suite(warehouse_url, spec.targeting(schema=schema), run_id)
        leak, *token_checks = outcome.results
        assert leak.expectation.startswith("unexpected_rows_expectation(no mobile, email, id card or imsi or imei")
        assert not leak.success and leak.observed_value == str(len(personal))  # each kind, not the clean row
        assert [c.success for c in token_checks] == [True]  # msisdn_token: 64 hex digits
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {schema} cascade")
            conn.execute("delete from audit.dq_results where run_id = %s", (run_id,))

"""Personal data past raw, on a landed and built simulated world: none in any written form the
simulator produces (survey comments included), the PII suites pass, BI sees marts only, and an
erased customer leaves no value and no token anywhere once the marts are rebuilt."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg
import pytest

from telco_dw.privacy import catalogue, lifecycle, roles, scan, tokens
from telco_dw.privacy.detect import find
from telco_dw.quality import all_suites, failure_message, run_suite
from telco_dw.simulate.world import SimConfig, generate
from telco_dw.transform import manifest
from telco_dw.transform.rebuild import rebuild, rebuild_after_erasure

pytestmark = pytest.mark.e2e

START = date(2026, 10, 1)
END = START + timedelta(days=10)
WORLD = SimConfig(customers=300, days=10, start=START, seed=17)  # its comments hold 2 identifiers
PAST_RAW = ["staging", "intermediate", "marts", "marts_candidate", "snapshots"]


@pytest.fixture(scope="module")
def built(warehouse, cfg, landed_world, tmp_path_factory):
    outbox = tmp_path_factory.mktemp("privacy_e2e_outbox")
    generate(outbox, WORLD)
    with landed_world("telco_dw_privacy_e2e", outbox, END, tmp_path_factory.mktemp("privacy_e2e_landing")) as url:
        with psycopg.connect(url) as conn, conn.transaction():  # what the transform DAG's prepare_privacy does
            catalogue.check(conn, cfg.dbt_project)
            tokens.install(conn, tokens.key(warehouse))
            roles.apply(conn)
        rebuild(url)  # dbt build, the quality gate (PII suites included), publish
        yield url


def test_no_personal_value_past_raw_and_comments_arrive_scrubbed(built):
    with psycopg.connect(built, autocommit=True) as conn:
        # the simulator wrote phone numbers, emails and ID numbers into some comments
        leaky = sum(
            bool(find(comment))
            for (comment,) in conn.execute(
                "select distinct on (response_id) comment from raw_survey.responses order by response_id"
            )
        )
        columns = scan.text_columns(conn, PAST_RAW)
        assert len(columns) > 20
        assert scan.scan(conn, columns) == []
        placeholders = conn.execute(
            "select count(*) filter (where comment_scrubbed ~ '\\[(mobile|email|id_number)\\]'), "
            "count(comment_scrubbed) from marts.fct_survey_responses"
        ).fetchone()
    assert placeholders[0] == leaky > 0 and placeholders[1] > placeholders[0]  # scrubbed, not dropped


def test_every_pii_suite_passes(built):
    run_id = f"test_privacy_e2e/{uuid.uuid4().hex[:8]}"
    specs = [s for s in all_suites() if s.name.startswith("pii.")]
    assert {s.schema for s in specs} == {"staging", "marts", "snapshots"}
    for spec in specs:
        outcome = run_suite(built, spec, run_id)
        assert outcome.passed, failure_message(outcome)


def test_bi_reader_reads_the_marts_and_nothing_before_them(built):
    with psycopg.connect(built, autocommit=True) as conn:
        customers = conn.execute("select count(distinct customer_id) from raw_crm.customers").fetchone()[0]
        conn.execute("set role bi_reader")
        assert conn.execute("select count(*) from marts.dim_customers").fetchone()[0] == customers > 0
        for table in ("raw_crm.customers", "quarantine.crm", "staging.stg_crm__customers", "audit.load_batches"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")


def test_an_erased_customer_leaves_no_value_and_no_token_after_the_rebuild(built, cfg, warehouse, rows_holding):
    with psycopg.connect(built) as conn:
        customer_id, numbers = conn.execute(
            "select s.customer_id, array_agg(distinct s.msisdn) from raw_crm.subscriptions s "
            "join raw_network.subscriber_experience_daily n using (msisdn) group by 1 order by count(*) desc limit 1"
        ).fetchone()
        values = [
            v
            for (v,) in conn.execute(
                "select distinct v from raw_crm.customers, lateral (values (id_card_no), (mobile), (email)) t(v) "
                "where customer_id = %s and v is not null",
                (customer_id,),
            )
        ]
        key = tokens.key(warehouse)
        traces = values + numbers + [tokens.token(key, n) for n in numbers]
        assert conn.execute(
            "select count(*) from marts.fct_customer_experience_daily where customer_id = %s", (customer_id,)
        ).fetchone()[0]
        assert rows_holding(conn, traces, ["raw_crm", "raw_network", *PAST_RAW])  # before: everywhere

        with conn.transaction():
            lifecycle.erase_customer(conn, catalogue.load(cfg.dbt_project), customer_id)
    rebuild_after_erasure(built, f"test_privacy_e2e/erase/{customer_id}")  # what `telco-dw privacy erase` does next
    with psycopg.connect(built) as conn:
        # the candidate held the marts published before: only the facts brought up to the erasure's publish stay
        tables = "select relname from pg_class where relkind = 'r' and relnamespace = 'marts_candidate'::regnamespace"
        facts = set(manifest.incremental_marts(manifest.checked(cfg)))
        assert {r for (r,) in conn.execute(tables)} == facts != set()
        schemas = [r[0] for r in conn.execute("select nspname from pg_namespace where nspname !~ '^(pg_|information)'")]
        assert rows_holding(conn, traces, [s for s in schemas if s not in ("audit", "privacy")]) == {}
        # the customer is still counted: facts without a person are facts
        assert (
            conn.execute("select count(*) from marts.dim_customers where customer_id = %s", (customer_id,)).fetchone()[
                0
            ]
            == 1
        )

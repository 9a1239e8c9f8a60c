"""Erasure and retention on a landed simulated world: the customer's personal values leave raw and
quarantine (facts stay), repeating is harmless, other customers are untouched; retention nulls only
what is past its declared period, from the clock its table declares; both log counts, not values."""

from datetime import date, timedelta

import psycopg
import pytest

from telco_dw.privacy import catalogue, lifecycle
from telco_dw.simulate.world import SimConfig, generate

pytestmark = pytest.mark.integration

START = date(2026, 10, 1)
DAYS = 5
END = START + timedelta(days=DAYS)
WORLD = SimConfig(customers=150, days=DAYS, start=START, seed=31, dirty_rate=0.03)


@pytest.fixture(scope="module")
def url(landed_world, tmp_path_factory):
    outbox = tmp_path_factory.mktemp("privacy_outbox")
    generate(outbox, WORLD)
    with landed_world("telco_dw_privacy_test", outbox, END, tmp_path_factory.mktemp("privacy_landing")) as url:
        yield url


@pytest.fixture(scope="module")
def declared(cfg):
    return catalogue.load(cfg.dbt_project)


RAW_AND_QUARANTINE = ["raw_crm", "raw_billing", "raw_network", "raw_survey", "quarantine"]


def _subject(conn) -> tuple[str, list[str]]:
    """A customer with survey answers, network days and a quarantined row naming them; their values."""
    row = conn.execute(
        "select c.customer_id from raw_crm.customers c "
        "join raw_crm.subscriptions s using (customer_id) "
        "join raw_network.subscriber_experience_daily n on n.msisdn = s.msisdn "
        "join raw_survey.responses r on r.customer_id = c.customer_id "
        "group by 1 order by count(*) desc limit 1"
    ).fetchone()
    customer_id = row[0]
    values = [
        v
        for (v,) in conn.execute(
            "select distinct v from (select id_card_no, mobile, email, address from raw_crm.customers "
            "where customer_id = %s union all select msisdn, null, null, null from raw_crm.subscriptions "
            "where customer_id = %s) t, lateral (values (id_card_no), (mobile), (email), (address)) x(v) "
            "where v is not null",
            (customer_id, customer_id),
        )
    ]
    return customer_id, values


def test_erasure_removes_the_customer_everywhere_in_raw_and_quarantine_and_nothing_else(url, declared, rows_holding):
    with psycopg.connect(url) as conn:
        counts = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("raw_crm.customers",
                  "raw_network.subscriber_experience_daily", "raw_survey.responses")}  # fmt: skip
        customer_id, values = _subject(conn)
        # a quarantined row naming them (as a dirty record would)
        conn.execute(
            "insert into quarantine.survey (batch_id, target_table, source_ref, row_number, reason, raw_record, "
            "raw_text) values ('b', 'raw_survey.responses', 'probe', 1, 'probe', %s, null)",
            (psycopg.types.json.Jsonb({"customer_id": customer_id, "comment": f"call {values[0]}"}),),
        )
        conn.commit()
        other = conn.execute(
            "select customer_id, mobile from raw_crm.customers where customer_id <> %s and mobile is not null limit 1",
            (customer_id,),
        ).fetchone()
        assert len(values) >= 4 and rows_holding(conn, values, RAW_AND_QUARANTINE)

        with conn.transaction():
            done = lifecycle.erase_customer(conn, declared, customer_id)
        assert done["raw_crm.customers"] >= 1 and done["raw_network.subscriber_experience_daily"] >= 1
        assert done["raw_survey.responses"] >= 1 and done["quarantine.survey"] >= 1
        assert rows_holding(conn, values, RAW_AND_QUARANTINE) == {}
        # facts stay: no row deleted from raw, the customer's rows are still there without personal values
        assert {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in counts} == counts
        assert (
            conn.execute("select mobile from raw_crm.customers where customer_id = %s", (other[0],)).fetchone()[0]
            == other[1]
        )
        logged = conn.execute(
            "select target, rows_affected from audit.privacy_actions where action = 'erasure' and subject = %s",
            (customer_id,),
        ).fetchall()
        assert dict(logged) == done
        assert all(v not in str(row) for row in conn.execute("select * from audit.privacy_actions") for v in values)

        with conn.transaction():  # again: nothing left to do, logged as zeros
            again = lifecycle.erase_customer(conn, declared, customer_id)
        assert set(again.values()) == {0}


def test_retention_nulls_only_what_is_past_its_period(url, declared):
    with psycopg.connect(url) as conn:
        # network rows: 180 days from landing. Age half of them past it.
        conn.execute(
            "update raw_network.subscriber_experience_daily set _loaded_at = now() - interval '200 days' "
            "where _row_number % 2 = 0 and msisdn is not null"
        )
        aged = conn.execute(
            "select count(*) from raw_network.subscriber_experience_daily "
            "where _loaded_at < now() - interval '180 days'"
        ).fetchone()[0]
        young = conn.execute(
            "select count(*) from raw_network.subscriber_experience_daily where msisdn is not null "
            "and _loaded_at >= now() - interval '180 days'"
        ).fetchone()[0]
        # CRM customers: 1095 days from when a newer version superseded a row. One customer with an old
        # version superseded 1200 days ago; another whose only version landed 1300 days ago (current: kept)
        two, one = [r[0] for r in conn.execute(
            "select customer_id from raw_crm.customers where mobile is not null group by 1 having count(*) = 1 limit 2"
        )]  # fmt: skip
        conn.execute("insert into raw_crm.customers select * from raw_crm.customers where customer_id = %s", (two,))
        conn.execute(
            "update raw_crm.customers set _loaded_at = now() - interval '1300 days' "
            "where customer_id = %s and ctid = (select min(ctid) from raw_crm.customers where customer_id = %s)",
            (two, two),
        )
        conn.execute(
            "update raw_crm.customers set _loaded_at = now() - interval '1200 days', _row_number = _row_number + 1 "
            "where customer_id = %s and _loaded_at > now() - interval '1250 days'",
            (two,),
        )
        conn.execute("update raw_crm.customers set _loaded_at = now() - interval '1300 days' where customer_id = %s",
                     (one,))  # fmt: skip
        conn.execute("update quarantine.network set quarantined_at = now() - interval '400 days'")
        quarantined = conn.execute("select count(*) from quarantine.network").fetchone()[0]
        conn.commit()

        with conn.transaction():
            done = lifecycle.apply_retention(conn, declared)

        assert done["raw_network.subscriber_experience_daily(msisdn, imsi, imei, serving_cell_id)"] == aged > 0
        assert (
            conn.execute(
                "select count(*) from raw_network.subscriber_experience_daily where msisdn is not null"
            ).fetchone()[0]
            == young
            > 0
        )
        versions = conn.execute(
            "select mobile is null, id_card_no is null from raw_crm.customers where customer_id = %s "
            "order by _loaded_at",
            (two,),
        ).fetchall()
        assert versions == [(True, True), (False, False)]  # the superseded version lost its values
        assert conn.execute("select mobile from raw_crm.customers where customer_id = %s", (one,)).fetchone()[0]
        assert done["quarantine.network"] == quarantined
        logged = conn.execute(
            "select sum(rows_affected) from audit.privacy_actions where action = 'retention'"
        ).fetchone()[0]
        assert logged == sum(done.values())


def test_the_compliance_report_shows_catalogue_evidence_grants_and_log_and_no_personal_value(url, cfg, tmp_path):
    from telco_dw.privacy import report, roles
    from telco_dw.privacy.detect import find

    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            roles.apply(conn)
            lifecycle.apply_retention(conn, catalogue.load(cfg.dbt_project))
        conn.execute("create schema if not exists staging")
        conn.execute("create table staging.report_probe as select customer_id, 'fine' as note from raw_crm.customers")
        clean = report.build(conn, cfg.dbt_project)
        conn.execute("insert into staging.report_probe values ('C1', 'call 13912345678')")  # a leak past raw
        leaked = report.build(conn, cfg.dbt_project)
        conn.execute("drop table staging.report_probe")

    verdicts = {e.title: e.held for e in clean.evidence}
    assert verdicts["No personal value past raw"] is True
    assert verdicts["Every personal raw column declared"] is True
    assert {e.title: e.held for e in leaked.evidence}["No personal value past raw"] is False
    assert "staging.report_probe.note: 1 values with a mobile" in leaked.evidence[0].detail
    assert len(clean.catalogue) >= 14 and ("bi_reader", "marts", "usage only") in clean.privileges
    assert "retention" in {a[0] for a in clean.actions}

    page, text = report.write(clean, tmp_path)
    for rendered in (page.read_text(encoding="utf-8"), text.read_text(encoding="utf-8")):
        assert "raw_crm.customers.mobile" in rendered and "Who can reach what" in rendered
        assert find(rendered) == []  # not one identifier

"""The PII catalogue: read from the sources YAML, complete, strict about its entries; a raw column
that looks personal (by name or by value) and is not declared is named in a failure."""

import shutil

import pytest

from telco_dw.errors import UserError
from telco_dw.privacy import catalogue
from telco_dw.privacy.detect import KINDS
from telco_dw.warehouse.connection import connect

pytestmark = pytest.mark.integration


def test_the_catalogue_declares_every_personal_raw_column(cfg):
    columns = {c.qualified: c for c in catalogue.load(cfg.dbt_project)}
    assert columns["raw_crm.customers.mobile"].masking == "token"
    assert columns["raw_crm.customers.full_name"].masking == "mask_name"
    assert columns["raw_crm.customers.birth_date"].masking == "age_band"
    assert columns["raw_billing.accounts.bank_card_no"].level == "sensitive"
    assert columns["raw_network.subscriber_experience_daily.serving_cell_id"].level == "sensitive"
    assert columns["raw_survey.responses.comment"].masking == "scrub"
    # every kind of identifier the detector knows is a declared category somewhere
    assert set(KINDS) <= {c.category for c in columns.values()}
    assert all(c.retention_days > 0 and c.declared_in.endswith("__sources.yml") for c in columns.values())


def test_an_incomplete_entry_names_file_and_column(cfg, tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(cfg.dbt_project / "models", project / "models")
    path = project / "models/staging/survey/_survey__sources.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("masking: scrub, ", ""), encoding="utf-8")
    named = r"_survey__sources.yml: personal column raw_survey.responses.comment does not declare masking"
    with pytest.raises(UserError, match=named):
        catalogue.load(project)
    path.write_text(text.replace("masking: scrub", "masking: blur"), encoding="utf-8")
    with pytest.raises(UserError, match="masking 'blur'; use one of token"):
        catalogue.load(project)


@pytest.fixture()
def probe(warehouse):
    with connect(warehouse, autocommit=True) as conn:
        conn.execute("drop table if exists raw_crm.pii_probe")
        conn.execute(
            'create table raw_crm.pii_probe (probe_id text, "联系电话" text, contact_email text, note text, '
            "plan_name text, _source_file text)"
        )
        conn.execute(
            "insert into raw_crm.pii_probe select 'P' || n, null, null, "
            "case when n % 3 = 0 then '请回电 139-' || lpad(n::text, 4, '0') || '-5678' else 'ok' end, "
            "'5G 畅享', 'crm/x.csv' from generate_series(1, 30) n"
        )
        yield conn
        conn.execute("drop table raw_crm.pii_probe")


def test_undeclared_personal_columns_fail_the_check_by_name_and_by_value(cfg, probe):
    found = {(u.table, u.column): u.why for u in catalogue.undeclared(probe, catalogue.load(cfg.dbt_project))}
    assert found == {
        ("pii_probe", "联系电话"): "its name says personal data",
        ("pii_probe", "contact_email"): "its name says personal data",
        ("pii_probe", "note"): "10 of 30 sampled values hold a mobile",
    }
    with pytest.raises(UserError, match=r"3 raw column\(s\) .*raw_crm\.pii_probe\.note .*Declare each"):
        catalogue.check(probe, cfg.dbt_project)

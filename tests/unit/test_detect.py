"""Personal identifiers are found in every written form the simulator and real comments use, check
digits decide what a digit run is, and the scrubber leaves none behind."""

import random
from datetime import date

import pytest

from telco_dw.privacy.detect import find, id_card_valid, kinds_in, luhn_valid, scrub
from telco_dw.simulate import identities as ids

RNG = random.Random(11)
MOBILES = [ids.mobile(RNG) for _ in range(50)]


@pytest.mark.parametrize(
    "form",
    [
        lambda m: m,
        lambda m: f"{m[:3]} {m[3:7]} {m[7:]}",
        lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}",
        lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}",
        lambda m: f"+86-{m}",
        lambda m: f"86{m}",
    ],
    ids=["plain", "spaced", "dashed", "+86 spaced", "+86-", "86"],
)
def test_a_mobile_number_in_each_written_form_is_found_and_scrubbed(form):
    for m in MOBILES:
        text = f"请回电{form(m)}，谢谢"
        assert kinds_in(text) == {"mobile"}, text
        assert m[-4:] not in scrub(text) and "[mobile]" in scrub(text)


def test_id_numbers_are_told_apart_by_their_check_digit():
    for _ in range(200):
        card = ids.id_card(RNG, date(1950, 1, 1) + (date(2008, 1, 1) - date(1950, 1, 1)) * RNG.random(), "M")
        assert id_card_valid(card) and kinds_in(f"身份证号{card}，请核实") == {"id_card"}
        wrong = card[:17] + next(c for c in "0123456789X" if c != card[17])
        assert not id_card_valid(wrong) and "id_card" not in kinds_in(wrong)
        assert "[id_number]" in scrub(f"ID {wrong}")  # the scrubber takes it anyway: a typo'd ID still identifies


def test_imei_imsi_bank_card_and_email():
    for _ in range(100):
        m = ids.mobile(RNG)
        assert kinds_in(ids.imei(RNG)) == {"imei"}
        assert kinds_in(ids.imsi(RNG, m)) == {"imsi"}
        assert kinds_in(ids.bank_card(RNG)) == {"bank_card"}
        card = ids.bank_card(RNG)
        assert kinds_in(" ".join(card[i : i + 4] for i in range(0, len(card), 4))) == {"bank_card"}
        email = ids.email(RNG)
        assert kinds_in(f"email me at {email}.") == {"email"} and email not in scrub(f"email me at {email}")


def test_luhn_and_check_digits_reject_near_misses():
    imei = ids.imei(RNG)
    assert luhn_valid(imei) and not luhn_valid(imei[:-1] + str((int(imei[-1]) + 1) % 10))
    assert not luhn_valid("") and not luhn_valid("12a4")


@pytest.mark.parametrize(
    "text",
    [
        "invoice I00012345 of 2026-10-01T12:00:00Z, 128.50 CNY",
        "order 123456789012345",  # 15 digits, Luhn-invalid: no IMEI
        "cell C00042 RSRP -95.5 dBm, 5G",
        "客服很专业，问题当天就解决了",
        "",
        None,
    ],
)
def test_ordinary_text_is_not_flagged(text):
    assert find(text) == []


def test_every_simulated_comment_comes_out_clean():
    seen = set()
    for _ in range(5000):
        comment = ids.comment(RNG, RNG.random(), ids.mobile(RNG))
        seen |= kinds_in(comment)
        assert kinds_in(scrub(comment)) == set(), comment
    assert seen == {"mobile", "email", "id_card"}  # the simulator's comments hold all three

import random
import re
from datetime import date

from telco_dw.simulate import identities as ids


def test_id_card_has_valid_check_digit_and_birth_date():
    rng = random.Random(1)
    for _ in range(200):
        birth = date(1990, 5, 17)
        number = ids.id_card(rng, birth, "F")
        assert len(number) == 18
        assert number[6:14] == "19900517"
        assert number[17] == ids.id_check_digit(number[:17])
        assert int(number[16]) % 2 == 0  # even sequence digit for women


def test_known_id_check_digit():
    # GB 11643 worked example: 11010519491231002X
    assert ids.id_check_digit("11010519491231002") == "X"


def test_mobile_imei_bank_card_formats():
    rng = random.Random(2)
    for _ in range(200):
        assert re.fullmatch(r"1[3-9]\d{9}", ids.mobile(rng))
        imei = ids.imei(rng)
        assert len(imei) == 15 and ids.luhn_digit(imei[:-1]) == imei[-1]
        card = ids.bank_card(rng)
        assert ids.luhn_digit(card[:-1]) == card[-1]


def test_luhn_known_value():
    assert ids.luhn_digit("7992739871") == "3"

"""Realistic personal identifiers of mainland China (all synthetic, generated from a seeded RNG).

Mobile numbers match ``1[3-9]\\d{9}``; resident ID numbers carry a valid GB 11643 check digit;
IMEIs carry a valid Luhn check digit; IMSIs use MCC 460.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN_M = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆"
GIVEN_F = "芳娜敏静丽艳娟霞燕玲婷雪琳慧莹晶颖倩洁琴云红梅兰"
PROVINCES = (  # (province, city)
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("浙江省", "杭州市"),
    ("江苏省", "南京市"),
    ("四川省", "成都市"),
    ("湖北省", "武汉市"),
    ("北京市", "北京市"),
    ("上海市", "上海市"),
)
AREA_CODES = {
    "广东省": "4401",
    "浙江省": "3301",
    "江苏省": "3201",
    "四川省": "5101",
    "湖北省": "4201",
    "北京市": "1101",
    "上海市": "3101",
}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "138",
    "139",
    "150",
    "152",
    "158",
    "182",
    "187",
    "188",
    "130",
    "131",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "177",
    "180",
    "189",
    "199",
)
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com")


def chinese_name(rng: random.Random, gender: str) -> str:
    given = GIVEN_M if gender == "M" else GIVEN_F
    return rng.choice(SURNAMES) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of a resident ID number."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_card(rng: random.Random, birth: date, gender: str) -> str:
    """An 18-character resident ID: area code, birth date, sequence (odd for men), check digit."""
    area = rng.choice(tuple(AREA_CODES.values())) + f"{rng.randrange(1, 30):02d}"
    seq = rng.randrange(0, 50) * 2 + (1 if gender == "M" else 0)
    first17 = f"{area}{birth:%Y%m%d}{rng.randrange(0, 10)}{seq:02d}"
    return first17 + id_check_digit(first17)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 10**8):08d}"


def email(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    user = "".join(rng.choice(letters) for _ in range(rng.randrange(4, 9))) + str(rng.randrange(10, 9999))
    return f"{user}@{rng.choice(MAIL_DOMAINS)}"


def address(rng: random.Random, province: str, city: str) -> str:
    roads = ("人民路", "解放路", "中山路", "建设路", "和平路", "长江路")
    road, number = rng.choice(roads), rng.randrange(1, 999)
    return f"{province}{city}{road}{number}号{rng.randrange(1, 30)}栋{rng.randrange(101, 2999)}室"


def luhn_digit(body: str) -> str:
    """The Luhn check digit for ``body`` (used by IMEIs and bank cards)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def imei(rng: random.Random) -> str:
    body = "86" + "".join(str(rng.randrange(10)) for _ in range(12))
    return body + luhn_digit(body)


def imsi(rng: random.Random, msisdn: str) -> str:
    """A 15-digit IMSI (MCC 460) derived stably from the subscriber's number."""
    return "46000" + msisdn[1:] if len(msisdn) == 11 else "46000" + f"{rng.randrange(0, 10**10):010d}"


def bank_card(rng: random.Random) -> str:
    body = "62" + "".join(str(rng.randrange(10)) for _ in range(16))
    return body + luhn_digit(body)


_GOOD = (
    "信号很好，网速快",
    "客服很专业，问题当天就解决了",
    "Great 5G coverage downtown",
    "套餐性价比高",
    "Happy with the service",
)
_BAD = (
    "地下室经常没信号，投诉了好几次",
    "账单比预期高，客服解释不清楚",
    "Calls drop every evening at home",
    "处理太慢了，等了三天",
    "Internet is slow and support never called back",
)
_PII_TEMPLATES = (
    "请回电 {mobile}",
    "call me back on +86 {spaced}",
    "我的手机号是{dashed}，麻烦尽快处理",
    "email me at {email}",
    "身份证号{id_card}，请核实实名信息",
)


def comment(rng: random.Random, score_share: float, msisdn: str) -> str:
    """A survey comment in Chinese or English; some contain a phone number, email or ID number."""
    if rng.random() < 0.45:
        return ""
    text = rng.choice(_GOOD if score_share >= 0.8 else _BAD)
    if rng.random() < 0.15:
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 40))
        extra = rng.choice(_PII_TEMPLATES).format(
            mobile=msisdn,
            spaced=f"{msisdn[:3]} {msisdn[3:7]} {msisdn[7:]}",
            dashed=f"{msisdn[:3]}-{msisdn[3:7]}-{msisdn[7:]}",
            email=email(rng),
            id_card=id_card(rng, birth, rng.choice("MF")),
        )
        text = f"{text}，{extra}" if rng.random() < 0.5 else f"{text}. {extra}"
    return text

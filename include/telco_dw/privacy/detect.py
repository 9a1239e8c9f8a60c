"""Personal data in text, in the written forms people and systems use (``../shared/DOMAIN.md``).

One place knows what a mobile number, email, resident ID number, IMSI, IMEI or bank card looks like;
the PII scans, the free-text scrubber and the tests all ask it. A digit run is only called an ID
number, IMEI or bank card when its check digit is valid (GB 11643, Luhn), so order numbers and
amounts are not flagged; the scrubber is wider on purpose (see :func:`scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

KINDS = ("mobile", "email", "id_card", "imsi", "imei", "bank_card")
"""Every kind of identifier :func:`find` reports, in the order it looks for them."""


def id_card_valid(value: str) -> bool:
    """An 18-character resident ID number whose GB 11643 check character matches its 17 digits."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    """Digits whose last one is the Luhn check digit of the rest (IMEI, bank cards)."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z])"

PATTERNS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    # 13812345678, 138 1234 5678, 138-1234-5678, +86 138 1234 5678, +86-13812345678, 8613812345678
    "mobile": (
        re.compile(_NOT_DIGIT_BEFORE + r"(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NOT_DIGIT_AFTER),
        lambda s: True,
    ),
    "email": (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), lambda s: True),
    "id_card": (re.compile(_NOT_DIGIT_BEFORE + r"\d{17}[\dXx]" + _NOT_DIGIT_AFTER), id_card_valid),
    "imsi": (re.compile(_NOT_DIGIT_BEFORE + r"46[01]\d{12}" + _NOT_DIGIT_AFTER), lambda s: True),
    "imei": (re.compile(_NOT_DIGIT_BEFORE + r"\d{15}" + _NOT_DIGIT_AFTER), lambda s: luhn_valid(s)),
    # 16 to 19 digits, optionally in groups of four
    "bank_card": (
        re.compile(_NOT_DIGIT_BEFORE + r"\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?" + _NOT_DIGIT_AFTER),
        lambda s: 16 <= len(_digits(s)) <= 19 and luhn_valid(_digits(s)),
    ),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def find(text: str | None) -> list[Finding]:
    """Every identifier in ``text`` (spans do not overlap: an earlier kind in :data:`KINDS` wins)."""
    if not text:
        return []
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for kind in KINDS:
        pattern, valid = PATTERNS[kind]
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken) or not valid(match.group()):
                continue
            found.append(Finding(kind, start, end))
            taken.append((start, end))
    return sorted(found, key=lambda f: f.start)


def kinds_in(text: str | None) -> set[str]:
    return {f.kind for f in find(text)}


SCRUB_RULES: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "[email]"),
    (r"[0-9]{17}[0-9Xx]", "[id_number]"),
    (r"[0-9]([ -]?[0-9]){13,18}", "[number]"),
    (r"(\+?86[ -]?)?1[3-9][0-9]([ -]?[0-9]{4}){2}", "[mobile]"),
)
"""(POSIX regular expression, replacement) applied in order by :func:`scrub` and by the dbt macro
``privacy.scrub(text)`` in the warehouse (:func:`scrub_sql`: the same rules, so Python and SQL scrub
alike). Wider than :func:`find`: any run
of 14 to 19 digits goes, valid check digit or not, because a scrubber that misses one typo'd ID
number leaks it, while one that hides an order number loses nothing an analyst needs."""


def scrub(text: str | None) -> str | None:
    """``text`` with every identifier replaced by a placeholder such as ``[mobile]``."""
    if text is None:
        return None
    for pattern, replacement in SCRUB_RULES:
        text = re.sub(pattern, replacement, text)
    return text


def scrub_sql(argument: str = "value") -> str:
    """:data:`SCRUB_RULES` as one SQL expression on ``argument`` (``privacy.scrub`` in the warehouse)."""
    expression = argument
    for pattern, replacement in SCRUB_RULES:
        quoted = pattern.replace("'", "''")
        expression = f"regexp_replace({expression}, '{quoted}', '{replacement}', 'g')"
    return expression


_EDGE_BEFORE, _EDGE_AFTER = "(^|[^0-9A-Za-z])", "([^0-9A-Za-z]|$)"
LEAK_SQL_PATTERNS: dict[str, str] = {
    "mobile": _EDGE_BEFORE + r"(\+?86[ -]?)?1[3-9][0-9]([ -]?[0-9]{4}){2}" + _EDGE_AFTER,
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "id_card": _EDGE_BEFORE + r"[0-9]{17}[0-9Xx]" + _EDGE_AFTER,
    "imsi_or_imei": _EDGE_BEFORE + r"[0-9]{15}" + _EDGE_AFTER,
}
"""POSIX regular expressions a value past raw must not match anywhere (the PII quality suites apply
them to whole rows as text). Delimited by non-alphanumerics, so a hex token, whose digit runs sit
between letters, is not mistaken for a number."""

"""Extract survey vendor exports: daily JSON Lines files, one response per line in a vendor envelope.

Write mode: one batch per file, replaced when its content changes; a redelivered file (same bytes,
other name) lands as its own batch and staging de-duplicates on the response. Cursor: the ``dt=``
partition plus the file ledger. Each answer of a response becomes one row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from telco_dw.load.batch import Batch, Row
from telco_dw.sources import files
from telco_dw.sources.survey.schema import RESPONSES

SURVEY_GLOB = "survey/dt=*/*.jsonl"
_KNOWN_RESPONSE_FIELDS = {"response_id", "submitted_at", "respondent", "survey", "answers", "comment"}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def flatten(line: dict[str, Any]) -> list[list[str | None]]:
    """The rows (declared column order) of one export line; ``KeyError``/``TypeError`` if malformed."""
    response = line["response"]
    respondent, survey = response["respondent"], response["survey"]
    rows = []
    for answer in response["answers"]:
        rows.append(
            [
                _text(response["response_id"]),
                _text(respondent.get("customer_id")),
                _text(respondent.get("msisdn")),
                _text(survey.get("type")),
                _text(survey.get("touchpoint")),
                _text(survey.get("ticket_id")),
                _text(response.get("submitted_at")),
                _text(answer.get("question")),
                _text(answer.get("score")),
                _text(answer.get("scale_max")),
                response.get("comment") or None,
                _text(line.get("vendor")),
                _text(line.get("export_id")),
                _text(line.get("exported_at")),
            ]
        )
    return rows


def _rows(file: files.LandedFile, notes: dict[str, object]) -> Iterator[Row]:
    extra: set[str] = set()
    number = 0
    with file.open() as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                number += 1
                yield Row(
                    number,
                    None,
                    raw.decode("utf-8", errors="replace"),
                    f"line {line_number}: bad encoding, not UTF-8 ({exc.reason} at byte {exc.start})",
                )
                continue
            try:
                parsed = json.loads(text)
                rows = flatten(parsed)
                extra |= set(parsed["response"]) - _KNOWN_RESPONSE_FIELDS
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                number += 1
                yield Row(
                    number,
                    None,
                    text.rstrip("\n"),
                    f"line {line_number}: malformed export line ({type(exc).__name__}: {exc})",
                )
                continue
            for values in rows:
                number += 1
                yield Row(number, values)
    if extra:
        notes["extra_fields"] = sorted(extra)


def batches(landing_url: str, before: date | None) -> Iterator[Batch]:
    """One batch per export file with a partition before ``before``."""
    for file in files.find(landing_url, SURVEY_GLOB, before):
        notes: dict[str, object] = {}
        yield Batch(
            table=RESPONSES,
            source_ref=file.relative,
            checksum=file.sha256(),
            rows=_rows(file, notes),
            size_bytes=file.size,
            notes=notes,
        )

"""Writers for the simulator's outbox, with dirty-data injection and a manifest of what was written.

Every writer is deterministic (sorted output, gzip without a timestamp, fixed Parquet settings), so
the same simulation produces byte-identical files. Dirty rows are decided by a seeded RNG per file
and counted per kind in the manifest, next to the clean row count, so tests can check the rates.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

DIRTY_KINDS: tuple[str, ...] = (
    "malformed",
    "out_of_range",
    "null_required",
    "duplicate",
    "late",
    "schema_drift",
    "orphan",
    "bad_encoding",
)
"""Kinds injected by default. ``renamed_column`` (breaking drift) is opt-in: it fails the batch."""
OPT_IN_KINDS: tuple[str, ...] = ("renamed_column",)


def fmt(value: Any) -> str:
    """One value as text: ISO 8601 UTC timestamps with ``Z``, ISO dates, plain decimals, empty for null."""
    if type(value) is str:  # the common case, first
        return value
    if value is None:
        return ""
    if isinstance(value, datetime):  # isoformat is several times faster than strftime
        if value.utcoffset():
            value = value.astimezone(UTC)
        return value.isoformat(timespec="seconds")[:19] + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return fmt(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(jsonable(record), ensure_ascii=False, separators=(",", ":"), sort_keys=False)


@dataclass
class Manifest:
    """What the simulation wrote: arguments, files (bytes, sha256, rows), dirty rows per kind."""

    arguments: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    dirty: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    late_files: dict[str, str] = field(default_factory=dict)  # relative path -> delivery date

    def record(self, out: Path, path: Path, rows: int, clean_rows: int) -> None:
        with path.open("rb") as handle:  # streamed: a day-0 file of a large world is hundreds of MB
            digest = hashlib.file_digest(handle, "sha256")
        self.files[path.relative_to(out).as_posix()] = {
            "bytes": path.stat().st_size,
            "sha256": digest.hexdigest(),
            "rows": rows,
            "clean_rows": clean_rows,
        }

    def count_dirty(self, kind: str, rel: str, n: int = 1) -> None:
        self.dirty[kind][rel] = self.dirty[kind].get(rel, 0) + n

    def totals(self) -> dict[str, int]:
        return {kind: sum(files.values()) for kind, files in sorted(self.dirty.items())}

    def write(self, out: Path) -> None:
        body = {
            "arguments": self.arguments,
            "dirty_totals": self.totals(),
            "dirty": {k: dict(sorted(v.items())) for k, v in sorted(self.dirty.items())},
            "late_files": dict(sorted(self.late_files.items())),
            "files": dict(sorted(self.files.items())),
        }
        (out / "manifest.json").write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


class Dirt:
    """Decides, per file and seeded, which records become dirty and of which kind."""

    def __init__(self, seed: int, rate: float, kinds: Sequence[str]) -> None:
        unknown = set(kinds) - set(DIRTY_KINDS) - set(OPT_IN_KINDS)
        if unknown:
            raise ValueError(f"unknown dirty kinds {sorted(unknown)}; known: {', '.join(DIRTY_KINDS + OPT_IN_KINDS)}")
        if not 0 <= rate < 0.5:
            raise ValueError(f"dirty rate {rate} must be in [0, 0.5)")
        self.seed, self.rate, self.kinds = seed, rate, tuple(kinds)

    def rng(self, rel: str) -> random.Random:
        return random.Random(f"{self.seed}/dirt/{rel}")

    def enabled(self, kind: str) -> bool:
        return self.rate > 0 and kind in self.kinds

    def pick(self, rng: random.Random, n: int, applicable: Sequence[str]) -> list[tuple[int, str]]:
        """Positions (0..n-1) and kinds of the dirty records of a file of ``n`` clean records."""
        kinds = [k for k in applicable if self.enabled(k)]
        if not kinds or n == 0:
            return []
        picks = []
        for i in range(n):
            if rng.random() < self.rate:
                picks.append((i, rng.choice(kinds)))
        return picks


class CsvFile:
    """Rows for one CSV file, collected then written sorted-as-given with a header."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows: list[list[str]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.rows.append([fmt(record.get(c)) for c in self.columns])

    def encode(self, extra_lines: Iterable[tuple[int, bytes]] = ()) -> bytes:
        """The file's bytes; ``extra_lines`` are raw lines inserted after the given row index."""
        inserts: dict[int, list[bytes]] = defaultdict(list)
        for pos, line in extra_lines:
            inserts[pos].append(line)
        chunks: list[bytes] = []
        done = 0
        for stop in sorted({*inserts, len(self.rows) - 1}):  # runs of rows written at once, raw lines between
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if not chunks:
                writer.writerow(self.columns)
            writer.writerows(self.rows[done : stop + 1])
            chunks.append(buffer.getvalue().encode("utf-8"))
            chunks.extend(inserts.get(stop, []))
            done = stop + 1
        return b"".join(chunks)


def csv_line(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([fmt(v) for v in values])
    return buffer.getvalue().encode("utf-8")


def write_bytes(path: Path, data: bytes, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def late_delivery(partition: date, rng: random.Random) -> date:
    return partition + timedelta(days=rng.choice((2, 3)))


Transform = Callable[[dict[str, Any]], dict[str, Any]]

"""The file half of the simulated outside world: copy the network and survey files that are due by a
date from the outbox into the landing area (``LANDING_URL``, any fsspec URL).

A file of day D is due once D has ended; a late file (manifest ``late_files``) only from its
delivery date. Idempotent: a file already delivered with the same size is not copied again.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from telco_dw.sources.files import PARTITION

FILE_SOURCES = ("network", "survey")


def deliver(outbox: Path, landing_url: str, through: date) -> list[str]:
    """Deliver every file due before ``through`` (exclusive); returns the relative paths copied now."""
    import fsspec

    manifest = json.loads((outbox / "manifest.json").read_text(encoding="utf-8"))
    late: dict[str, str] = manifest.get("late_files", {})
    fs, root = fsspec.core.url_to_fs(landing_url)
    root = root.rstrip("/")
    copied = []
    candidates = [
        (p, p.relative_to(outbox).as_posix()) for s in FILE_SOURCES for p in (outbox / s).rglob("*") if p.is_file()
    ]
    candidates += [(outbox / "_late" / rel, rel) for rel, due in late.items() if date.fromisoformat(due) < through]
    for path, rel in sorted(candidates, key=lambda c: c[1]):
        match = PARTITION.search(rel)
        if match is None or date.fromisoformat(match.group(1)) >= through:
            continue
        target = f"{root}/{rel}"
        if fs.exists(target) and fs.size(target) == path.stat().st_size:
            continue
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), target)
        copied.append(rel)
    return copied

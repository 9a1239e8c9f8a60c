"""Partitioned files in the landing area, through fsspec (a local folder here; s3://, sftp:// in production).

Layout: ``<LANDING_URL>/<source>/<dataset>/dt=YYYY-MM-DD[/hour=HH]/<file>``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

PARTITION = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    """A file waiting in the landing area."""

    fs: Any
    path: str
    relative: str
    partition: date | None
    size: int

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.fs.open(self.path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def open(self, compression: str | None = None) -> Any:
        return self.fs.open(self.path, "rb", compression=compression)


def find(landing_url: str, pattern: str, before: date | None = None) -> list[LandedFile]:
    """Files matching ``pattern`` (a glob below the landing root) with a partition before ``before``.

    Oldest partition first, then by path. A missing landing root raises ``FileNotFoundError``.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(landing_url)
    root = root.rstrip("/")
    if not fs.exists(root):
        raise FileNotFoundError(root)
    found = []
    for path in fs.glob(f"{root}/{pattern}"):
        match = PARTITION.search(path)
        partition = date.fromisoformat(match.group(1)) if match else None
        if before is not None and partition is not None and partition >= before:
            continue
        relative = path[len(root) + 1 :] if path.startswith(root + "/") else path
        found.append(LandedFile(fs, path, relative, partition, int(fs.size(path))))
    found.sort(key=lambda f: (f.partition or date.min, f.relative))
    return found

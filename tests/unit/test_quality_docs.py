"""The quality site's GX pages are made offline after every validation, including pages a run wrote
and never got to process itself (killed or failed between GX's write and its own pass)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from telco_dw.quality.docs import offline

REMOTE = "<html><script src='https://cdn.example/jquery.js'></script><p>3 of 3 passed</p></html>"


def _page(folder: Path, name: str, age_s: float) -> Path:
    page = folder / "validations" / name
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(REMOTE, encoding="utf-8")
    then = time.time() - age_s
    os.utime(page, (then, then))
    return page


def test_a_pass_covers_pages_written_since_the_last_complete_pass(tmp_path: Path) -> None:
    offline(tmp_path)  # a complete pass, then backdated: it began two hours ago
    marker = tmp_path / ".offline"
    two_hours_ago = time.time() - 7200
    os.utime(marker, (two_hours_ago, two_hours_ago))
    orphan = _page(tmp_path, "orphan.html", age_s=3600)  # a run wrote it an hour ago and died
    older = _page(tmp_path, "older.html", age_s=3 * 3600)  # before the last pass: not read again

    assert offline(tmp_path, since=datetime.now(UTC)) == 1  # this run's validation began just now
    assert orphan.read_text(encoding="utf-8") == "<html><p>3 of 3 passed</p></html>"
    assert older.read_text(encoding="utf-8") == REMOTE
    assert marker.stat().st_mtime > time.time() - 60  # the next pass starts from this one


def test_without_since_every_page_is_read(tmp_path: Path) -> None:
    pages = [_page(tmp_path, f"p{i}.html", age_s=i * 86400) for i in range(3)]
    assert offline(tmp_path) == 3
    assert all("https://" not in p.read_text(encoding="utf-8") for p in pages)

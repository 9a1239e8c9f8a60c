"""Benchmark helpers: run a command in a child process, measure wall time and peak RSS, and record
the figures in ``bench/results/<date>.json`` and ``.md`` (one file per day, entries merged by name)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def measure(code: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run Python ``code`` in a fresh interpreter; its last stdout line must be a JSON object of figures."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    )
    seconds = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update(seconds=round(seconds, 2), peak_rss_mb=round(max(peak_kb, before) / 1024, 1))
    return figures


def record(name: str, figures: dict[str, object]) -> None:
    """Merge ``figures`` under ``name`` into today's results (JSON and a Markdown table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    path = RESULTS / f"{day}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = {**figures, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count()}
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    keys = sorted({k for v in results.values() for k in v if k not in ("measured_at", "cpus")})
    lines = [f"# Benchmarks {day}", "", "| benchmark | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for bench, values in sorted(results.items()):
        lines.append(f"| {bench} | " + " | ".join(str(values.get(k, "")) for k in keys) + " |")
    (RESULTS / f"{day}.md").write_text("\n".join(lines) + "\n")

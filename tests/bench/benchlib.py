"""Benchmark helpers: run a command in a child process, measure wall time and peak RSS, and record
the figures in ``bench/results/<date>.json`` and ``.md`` (one file per day, entries merged by name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


_PEAK = """
import os, resource, sys
try:
    exec(compile(sys.argv[1], "<bench>", "exec"), {"__name__": "__main__"})
finally:
    own = 0
    if os.path.exists("/proc/self/status"):  # Linux: this process image's own high-water mark
        with open("/proc/self/status") as status:
            own = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["TELCO_DW_BENCH_PEAK_FILE"], "w") as out:
        out.write(str(max(own, children)))
"""


def measure(code: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run Python ``code`` in a fresh interpreter; its last stdout line must be a JSON object of figures.

    Adds wall ``seconds`` and ``peak_rss_mb``: the peak resident memory of that interpreter and of the
    processes it waited for. On Linux it is the interpreter's own ``VmHWM`` (``wait4``'s figure would
    also count the pytest process it was forked from); elsewhere ``wait4``'s.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        with (Path(scratch) / "stderr").open("w+b") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", _PEAK, code],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, **(env or {}), "TELCO_DW_BENCH_PEAK_FILE": str(peak_file)},
            )
            assert child.stdout is not None
            out = child.stdout.read().decode()
            child.stdout.close()
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.monotonic() - started
            if os.waitstatus_to_exitcode(status):
                stderr.seek(0)
                raise RuntimeError(f"benchmark child failed:\n{stderr.read().decode()[-4000:]}")
        peak_kb = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss
    figures = json.loads(out.strip().splitlines()[-1])
    figures.update(seconds=round(seconds, 2), peak_rss_mb=round(peak_kb / 1024, 1))
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

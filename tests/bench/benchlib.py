"""Benchmark helpers: run a command in a child process, measure wall time and peak RSS (the child's,
its own children's, and the PostgreSQL server's while it runs), and record the figures in
``bench/results/<date>.json`` and ``.md`` (one file per day, entries merged by name; the Markdown has
one table per benchmark family, the first word of an entry's name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
DEFAULT_SCALES = "10k,100k"


def scales() -> list[int]:
    """Customer counts to benchmark, from ``BENCH_SCALES`` (comma-separated, ``10k``, ``1m``, ``2500``;
    default ``10k,100k``: 1M is opt-in, ``BENCH_SCALES=10k,100k,1m``)."""
    raw = os.environ.get("BENCH_SCALES", "").strip() or DEFAULT_SCALES
    out = []
    for item in raw.lower().replace(" ", "").split(","):
        factor = {"k": 1_000, "m": 1_000_000}.get(item[-1:], 1)
        try:
            out.append(int(float(item[:-1] if factor > 1 else item) * factor))
        except ValueError:
            raise ValueError(f"BENCH_SCALES={raw!r}: {item!r} is not a count like 10k, 100k, 1m or 2500") from None
    return sorted(set(out))


def label(n: int) -> str:
    """``10k``, ``1M``, ``2500``: a count as the results name it."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


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
        out.write(f"{own} {children}")
"""


def measure(
    code: str, env: dict[str, str] | None = None, *, split_rss: bool = False, server_pid: int | None = None
) -> dict[str, float]:
    """Run Python ``code`` in a fresh interpreter; its last stdout line must be a JSON object of figures.

    Adds wall ``seconds`` and ``peak_rss_mb``: the peak resident memory of that interpreter and of the
    processes it waited for. On Linux it is the interpreter's own ``VmHWM`` (``wait4``'s figure would
    also count the pytest process it was forked from); elsewhere ``wait4``'s.

    ``split_rss`` adds ``own_peak_rss_mb`` (the interpreter alone) and ``children_peak_rss_mb`` (the
    largest process it started and waited for, e.g. dbt: ``RUSAGE_CHILDREN``). ``server_pid`` (a
    PostgreSQL postmaster on this machine) adds ``pg_peak_rss_mb`` and the server's autovacuum while
    the stage ran, ``autovacuum_s`` and ``autovacuum_cpu_s``, see :class:`ServerSampler`.
    """
    sampler = ServerSampler(server_pid) if server_pid else None
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
            server = sampler.stop() if sampler else None
            if os.waitstatus_to_exitcode(status):
                stderr.seek(0)
                raise RuntimeError(f"benchmark child failed:\n{stderr.read().decode()[-4000:]}")
        own_kb, children_kb = (int(n) for n in peak_file.read_text().split()) if peak_file.exists() else (0, 0)
        peak_kb = max(own_kb, children_kb) or usage.ru_maxrss
    figures = json.loads(out.strip().splitlines()[-1])
    figures.update(seconds=round(seconds, 2), peak_rss_mb=round(peak_kb / 1024, 1))
    if split_rss:
        figures.update(own_peak_rss_mb=round(own_kb / 1024, 1), children_peak_rss_mb=round(children_kb / 1024, 1))
    if server is not None:
        figures.update(
            pg_peak_rss_mb=round(server.peak / 2**20, 1),
            autovacuum_s=round(server.autovacuum_s, 1),
            autovacuum_cpu_s=round(server.autovacuum_cpu_s, 1),
        )
    return figures


class ServerSampler:
    """A PostgreSQL server (postmaster ``pid`` and its processes), sampled every ``interval`` seconds
    in a thread until :meth:`stop`: its peak resident memory and its autovacuum.

    Memory (``peak``, bytes): a sample is the private resident memory of every server process (RSS
    minus the pages it shares) plus the largest shared figure once (the shared buffers and the
    server's code, counted once, not once per backend): an estimate of what the server holds in RAM,
    not an exact figure. A sampler misses peaks shorter than its interval.

    Autovacuum: ``autovacuum_s``, the worker-seconds its workers were seen running (a worker each
    sample: ``interval`` seconds); ``autovacuum_cpu_s``, the CPU time they used meanwhile (a worker
    seen first is counted from its CPU time then). Maintenance the server started on its own, which
    competes with the stage for the machine's cores and disk: on 2 cores, a stage that ran beside a
    vacuum of a 30M-row table is not comparable with one that did not.
    """

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        import psutil

        self.server = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.autovacuum_s = 0.0
        self.autovacuum_cpu_s = 0.0
        self._cpu: dict[int, float] = {}  # an autovacuum worker's CPU seconds at its last sample
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> int:
        import psutil

        private, shared = 0, 0
        for process in [self.server, *self.server.children()]:
            try:
                info = process.memory_info()
                if "autovacuum worker" in " ".join(process.cmdline()):  # PostgreSQL's process title
                    times = process.cpu_times()
                    cpu = times.user + times.system
                    self.autovacuum_cpu_s += max(cpu - self._cpu.get(process.pid, cpu), 0.0)
                    self._cpu[process.pid] = cpu
                    self.autovacuum_s += self.interval
            except psutil.Error:  # a backend that ended meanwhile
                continue
            private += info.rss - getattr(info, "shared", 0)
            shared = max(shared, getattr(info, "shared", 0))
        return private + shared

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self._sample())
            if self._done.wait(self.interval):
                return

    def stop(self) -> ServerSampler:
        """Stop sampling; the figures are then final."""
        self._done.set()
        self._thread.join()
        return self


def record(name: str, figures: dict[str, object]) -> None:
    """Merge ``figures`` under ``name`` into today's results (JSON and a Markdown table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    path = RESULTS / f"{day}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = {**figures, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count()}
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    (RESULTS / f"{day}.md").write_text(markdown(day, results))


def forget(prefix: str) -> None:
    """Drop today's entries whose name starts with ``prefix``: a ranked list (``dbt-models 1M×30d #``)
    is recorded whole by each run, and an earlier run's ranks that this one does not fill would stay
    beside its own, as if measured with them."""
    day = datetime.now(UTC).date().isoformat()
    path = RESULTS / f"{day}.json"
    if not path.exists():
        return
    results = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith(prefix)}
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    (RESULTS / f"{day}.md").write_text(markdown(day, results))


def markdown(day: str, results: dict[str, dict[str, object]]) -> str:
    """One table per benchmark family (the first word of an entry's name: ``ingest``, ``simulate``,
    ``pipeline``, ...), families and rows in the order they were first recorded, the columns of that
    family only (sorted)."""
    families: dict[str, dict[str, dict[str, object]]] = {}
    for bench, values in results.items():
        families.setdefault(bench.split(" ", 1)[0], {})[bench] = values
    lines = [f"# Benchmarks {day}"]
    for family, entries in families.items():
        keys = sorted({k for v in entries.values() for k in v if k not in ("measured_at", "cpus")})
        lines += ["", f"## {family}", "", "| benchmark | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for bench, values in entries.items():
            lines.append(f"| {bench} | " + " | ".join(str(values.get(k, "")) for k in keys) + " |")
    return "\n".join(lines) + "\n"

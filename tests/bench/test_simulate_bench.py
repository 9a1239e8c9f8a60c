"""How fast the simulator writes sources, and its peak memory (issue: sources). `make bench` only.

Scales: 10k and 100k customers x 30 days always; 1M x 30 days with TELCO_DW_BENCH_1M=1 (long).
"""

import os

import pytest
from benchlib import measure, record

pytestmark = pytest.mark.bench

CODE = """
import json, shutil, sys, tempfile, time
from pathlib import Path
from telco_dw.simulate.world import SimConfig, generate
out = Path(tempfile.mkdtemp(prefix="telco-bench-"))
started = time.monotonic()
manifest = generate(out, SimConfig(customers={customers}, days={days}))
seconds = time.monotonic() - started
rows = sum(f["rows"] for f in manifest.files.values())
size = sum(f["bytes"] for f in manifest.files.values())
shutil.rmtree(out)
print(json.dumps({{"rows": rows, "rows_per_s": round(rows / seconds), "mb_per_s": round(size / seconds / 1e6, 2),
                  "mb_written": round(size / 1e6, 1), "generate_s": round(seconds, 1)}}))
"""

SCALES = [10_000, 100_000] + ([1_000_000] if os.environ.get("TELCO_DW_BENCH_1M") else [])


@pytest.mark.parametrize("customers", SCALES)
def test_simulate_throughput_and_memory(customers):
    figures = measure(CODE.format(customers=customers, days=30))
    record(f"simulate {customers} customers x 30 days", figures)
    assert figures["rows"] > customers * 30  # at least one experience row per customer-day

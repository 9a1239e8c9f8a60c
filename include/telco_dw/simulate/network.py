"""One simulated day of network-quality files: hourly per-cell KPIs (gzipped CSV, one file per hour)
and daily per-subscriber experience (Parquet), generated with numpy a day at a time.

Network files are not part of the ground truth, so their dirty records edit rows in place
(out-of-range RSRP, a blank required field) besides adding broken or duplicate lines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

import numpy as np

from telco_dw.simulate.outbox import CsvFile, csv_line, late_delivery, write_bytes

if TYPE_CHECKING:
    from telco_dw.simulate.records import DayFiles
    from telco_dw.simulate.world import World

CELL_COLUMNS = (
    "cell_id", "region", "technology", "hour_start", "rsrp_dbm", "rsrq_db", "sinr_db", "dl_mbps",
    "ul_mbps", "latency_ms", "call_attempts", "call_setups", "call_drops",
)  # fmt: skip
EXPERIENCE_COLUMNS = (
    "usage_date", "msisdn", "imsi", "imei", "serving_cell_id", "volume_mb", "avg_dl_mbps", "avg_rsrp_dbm",
)  # fmt: skip


def write_network_day(world: World, files: DayFiles, day: date, offset: int) -> None:
    """Write the day's 24 hourly cell-KPI files and its subscriber-experience file."""
    _cell_hours(world, files, day, offset)
    _experience(world, files, day, offset)


def _cell_hours(world: World, files: DayFiles, day: date, offset: int) -> None:
    rng = np.random.default_rng([world.cfg.seed, offset, 1])
    n = len(world.cell_rsrp)
    is5g = world.cell_tech == "5G"
    drift_day = files.dirt.enabled("schema_drift") and offset == world.cfg.days // 3
    rename_day = files.dirt.enabled("renamed_column") and offset == world.cfg.days // 3 + 1
    for hour in range(24):
        hour_start = datetime.combine(day, time(hour), tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rsrp = np.clip(world.cell_rsrp + rng.normal(0, 3, n), -140, -44).round(1)
        rsrq = np.clip(rng.normal(-10, 2.5, n), -19.5, -3).round(1)
        sinr = np.clip(rng.normal(14, 6, n) + (rsrp + 95) * 0.3, -23, 40).round(1)
        dl = np.where(is5g, rng.uniform(150, 500, n), rng.uniform(20, 80, n)).round(2)
        ul = np.where(is5g, rng.uniform(20, 80, n), rng.uniform(5, 20, n)).round(2)
        latency = rng.uniform(15, 60, n).round(1)
        attempts = rng.integers(50, 400, n)
        setups = attempts - rng.binomial(attempts, np.where(rsrp <= -105, 0.03, 0.01))
        drops = rng.binomial(setups, np.where(rsrp <= -105, 0.02, 0.006))
        columns = list(CELL_COLUMNS)
        if drift_day:
            columns.append("pci")
        if rename_day:
            columns[columns.index("latency_ms")] = "latency"
        sheet = CsvFile(columns)
        for i in range(n):
            row = [
                f"CELL{i:05d}", world.cell_region[i], str(world.cell_tech[i]), hour_start, f"{rsrp[i]:.1f}",
                f"{rsrq[i]:.1f}", f"{sinr[i]:.1f}", f"{dl[i]:.2f}", f"{ul[i]:.2f}", f"{latency[i]:.1f}",
                str(attempts[i]), str(setups[i]), str(drops[i]),
            ]  # fmt: skip
            if drift_day:
                row.append(str(i % 504))
            sheet.rows.append(row)
        rel = f"network/cell_kpi/dt={day.isoformat()}/hour={hour:02d}/cell_kpi.csv.gz"
        drng = files.dirt.rng(rel)
        extra: list[tuple[int, bytes]] = []
        for pos, kind in files.dirt.pick(drng, n, ("malformed", "out_of_range", "null_required", "duplicate")):
            if kind == "out_of_range":
                sheet.rows[pos][4] = "-200.0"
            elif kind == "null_required":
                sheet.rows[pos][1] = ""
            elif kind == "malformed":
                extra.append((pos, csv_line(sheet.rows[pos][:-2])))
            else:
                extra.append((pos, csv_line(sheet.rows[pos])))
            files.manifest.count_dirty(kind, rel)
        if drift_day:
            files.manifest.count_dirty("schema_drift", rel)
        if rename_day:
            files.manifest.count_dirty("renamed_column", rel)
        late = files.dirt.enabled("late") and drng.random() < min(0.2, files.dirt.rate * 20)
        target = files.out / "_late" / rel if late else files.out / rel
        write_bytes(target, sheet.encode(extra), gz=True)
        files.manifest.record(files.out, target, n + len(extra), n)
        if late:
            files.manifest.late_files[rel] = late_delivery(day, drng).isoformat()
            files.manifest.count_dirty("late", rel)


EXPERIENCE_SLICE = 100_000
"""Subscribers per Parquet row group: bounds memory for a million subscribers."""


def _experience(world: World, files: DayFiles, day: date, offset: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    store = world.customers
    active = np.flatnonzero(np.array(store.active, dtype=bool))  # indexes of the active subscribers
    n = len(active)
    if not n:
        return
    rng = np.random.default_rng([world.cfg.seed, offset, 2])
    cells = np.array(store.cell, dtype=np.int64)[active]
    msisdn_all = np.array(store.msisdn, dtype=np.int64)[active]
    imei_all = np.array(store.imei, dtype=np.int64)[active]
    # a subscriber is mostly at home, sometimes in another cell (a trajectory is personal data)
    roam = rng.random(n) < 0.2
    serving = np.where(roam, rng.integers(0, len(world.cell_rsrp), n), cells)
    rsrp = np.clip(world.cell_rsrp[serving] + rng.normal(0, 4, n), -140, -44).round(1)
    is5g = world.cell_tech[serving] == "5G"
    volume = rng.lognormal(6, 1, n).round(2)
    downlink = np.where(is5g, rng.uniform(100, 400, n), rng.uniform(10, 60, n)).round(2)
    del cells, roam, is5g
    rel = f"network/subscriber_experience/dt={day.isoformat()}/subscriber_experience.parquet"
    drng = files.dirt.rng(rel)
    dirty: dict[int, str] = dict(files.dirt.pick(drng, n, ("out_of_range", "null_required", "duplicate")))
    for kind in dirty.values():
        files.manifest.count_dirty(kind, rel)
    rsrp[[p for p, kind in dirty.items() if kind == "out_of_range"]] = -200.0
    no_imsi = np.zeros(n, dtype=bool)
    no_imsi[[p for p, kind in dirty.items() if kind == "null_required"]] = True
    duplicates = sorted(p for p, kind in dirty.items() if kind == "duplicate")
    schema = pa.schema(
        [
            ("usage_date", pa.date32()),
            ("msisdn", pa.string()),
            ("imsi", pa.string()),
            ("imei", pa.string()),
            ("serving_cell_id", pa.string()),
            ("volume_mb", pa.float64()),
            ("avg_dl_mbps", pa.float64()),
            ("avg_rsrp_dbm", pa.float64()),
        ]
    )
    path = files.out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=True) as writer:
        for low in range(0, n, EXPERIENCE_SLICE):  # a slice at a time: bounded memory for a million subscribers
            high = min(n, low + EXPERIENCE_SLICE)
            order = np.concatenate(
                [np.arange(low, high), np.array([p for p in duplicates if low <= p < high], dtype=np.int64)]
            )
            msisdn = msisdn_all[order]
            imsi = pc.binary_join_element_wise("46000", pa.array(msisdn - 10**10).cast(pa.string()), "")
            cell_no = pc.utf8_lpad(pa.array(serving[order]).cast(pa.string()), 5, "0")
            columns = {
                "usage_date": pa.array(np.full(len(order), day), type=pa.date32()),
                "msisdn": pa.array(msisdn).cast(pa.string()),
                # the Chinese MSISDN starts with 1: the IMSI is MCC-MNC 46000 and the other ten digits
                "imsi": pc.if_else(pa.array(no_imsi[order]), pa.scalar(None, pa.string()), imsi),
                "imei": pa.array(imei_all[order]).cast(pa.string()),
                "serving_cell_id": pc.binary_join_element_wise("CELL", cell_no, ""),
                "volume_mb": volume[order],
                "avg_dl_mbps": downlink[order],
                "avg_rsrp_dbm": rsrp[order],
            }
            writer.write_table(pa.table(columns, schema=schema))
            rows += len(order)
    files.manifest.record(files.out, path, rows, n)

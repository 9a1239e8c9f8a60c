"""Tables landed from network quality files into ``raw_network``.

Personal columns: MSISDN, IMSI, IMEI, and the serving cell per subscriber-day (a location trajectory).
"""

from telco_dw.sources.schema import table

CELL_KPI_HOURLY = table(
    "network",
    "cell_kpi_hourly",
    ("cell_id", "hour_start"),
    ("cell_id", "text"),
    ("region", "text", True),
    ("technology", "text", True),
    ("hour_start", "timestamptz"),
    ("rsrp_dbm", "numeric(6,1)", False, "between -156 and -31"),
    ("rsrq_db", "numeric(5,1)", False, "between -43 and 20"),
    ("sinr_db", "numeric(5,1)", False, "between -23 and 40"),
    ("dl_mbps", "numeric(8,2)"),
    ("ul_mbps", "numeric(8,2)"),
    ("latency_ms", "numeric(8,1)"),
    ("call_attempts", "integer"),
    ("call_setups", "integer"),
    ("call_drops", "integer"),
)

SUBSCRIBER_EXPERIENCE_DAILY = table(
    "network",
    "subscriber_experience_daily",
    ("usage_date", "msisdn"),
    ("usage_date", "date"),
    ("msisdn", "text"),
    ("imsi", "text", True),
    ("imei", "text"),
    ("serving_cell_id", "text", True),
    ("volume_mb", "numeric(12,2)"),
    ("avg_dl_mbps", "numeric(8,2)"),
    ("avg_rsrp_dbm", "numeric(6,1)", False, "between -156 and -31"),
)

TABLES = (CELL_KPI_HOURLY, SUBSCRIBER_EXPERIENCE_DAILY)

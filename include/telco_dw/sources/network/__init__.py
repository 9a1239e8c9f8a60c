"""Network quality: hourly per-cell KPIs and daily per-subscriber experience."""

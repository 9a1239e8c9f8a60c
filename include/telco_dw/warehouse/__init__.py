"""The warehouse server: embedded PostgreSQL or one given by ``WAREHOUSE_URL``."""

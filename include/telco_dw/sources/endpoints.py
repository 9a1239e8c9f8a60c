"""Where the sources are, from configuration: the real systems when their settings are given, the
simulators (``telco-dw sources serve``) otherwise."""

from __future__ import annotations

from telco_dw.config import Config
from telco_dw.load.landing import Endpoints
from telco_dw.warehouse.connection import warehouse_url


def resolve(cfg: Config) -> Endpoints:
    """Endpoints of the four sources for ``cfg`` (CRM API fields are None when nothing serves it)."""
    from telco_dw.sources import serve

    crm_url, crm_token = cfg.crm_api_url, cfg.crm_api_token
    if not crm_url:
        running = serve.crm_api_endpoint(cfg)
        if running is not None:
            crm_url, crm_token = running
    return Endpoints(
        landing_url=cfg.landing,
        billing_url=cfg.billing_source_url or warehouse_url(cfg, "billing_src"),
        crm_url=crm_url,
        crm_token=crm_token,
    )

"""Metric catalog: what events mean, loaded from TOML (shipped defaults + deployment override)."""

from orgpulse.catalog.loader import (
    CatalogError,
    build_catalog,
    cached_catalog,
    catalog_of,
    load_catalog,
)
from orgpulse.catalog.models import Aggregate, Blocker, Catalog, Funnel, Metric, Pair, Population

__all__ = [
    "Aggregate",
    "Blocker",
    "Catalog",
    "CatalogError",
    "Funnel",
    "Metric",
    "Pair",
    "Population",
    "build_catalog",
    "cached_catalog",
    "catalog_of",
    "load_catalog",
]

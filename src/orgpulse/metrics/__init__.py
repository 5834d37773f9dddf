"""Metrics over the rollups and projections, as the catalog defines them."""

from orgpulse.metrics.engine import MetricEngine, MetricValue, Window
from orgpulse.metrics.rebuild import OrgRebuild, rebuild_metrics, rebuild_org, resolve_orgs
from orgpulse.metrics.scope import OrgView, UnitRef, org_view
from orgpulse.metrics.service import OrgMetrics, compute_for_view, event_totals, org_metrics

__all__ = [
    "MetricEngine",
    "MetricValue",
    "OrgMetrics",
    "OrgRebuild",
    "OrgView",
    "UnitRef",
    "Window",
    "compute_for_view",
    "event_totals",
    "org_metrics",
    "org_view",
    "rebuild_metrics",
    "rebuild_org",
    "resolve_orgs",
]

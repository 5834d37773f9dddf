"""Health scores: pure scoring, the per-org service, daily snapshots and the backtest."""

from orgpulse.health.scoring import (
    Component,
    ComponentInput,
    Driver,
    HealthScore,
    band_of,
    normalize,
    score_components,
)
from orgpulse.health.service import OrgHealth, org_health, score_view

__all__ = [
    "Component",
    "ComponentInput",
    "Driver",
    "HealthScore",
    "OrgHealth",
    "band_of",
    "normalize",
    "org_health",
    "score_components",
    "score_view",
]

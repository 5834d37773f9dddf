"""Health scores: pure scoring, blockers, the per-org service, daily snapshots and the backtest."""

from orgpulse.health.blockers import ActiveBlocker, active_blockers
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
    "ActiveBlocker",
    "Component",
    "ComponentInput",
    "Driver",
    "HealthScore",
    "OrgHealth",
    "active_blockers",
    "band_of",
    "normalize",
    "org_health",
    "score_components",
    "score_view",
]

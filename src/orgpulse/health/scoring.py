"""Health score: a weighted index over normalized components. Pure functions, no I/O.

* A component's value is mapped linearly to 0–100 between its ``bad`` (0) and ``good`` (100)
  thresholds, clamped; "lower is better" metrics simply have ``good < bad``.
* Components without a value (no data, or below their minimum denominator) are excluded and the
  remaining weights renormalized — never a misleading 0 or 100.
* When the included components carry less than ``MIN_COVERAGE`` of the profile's weight, the
  score is "insufficient data", not a number.
* Drivers are the components with the largest weighted shortfall ``weight × (100 − score)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

MIN_COVERAGE = 0.5
AT_RISK_BELOW = 50.0
HEALTHY_FROM = 70.0
Band = Literal["healthy", "watch", "at_risk", "insufficient_data"]


class ComponentInput(BaseModel):
    key: str
    label: str
    weight: float
    value: float | None
    good: float
    bad: float
    reason_missing: str | None = None
    action: str | None = None
    runbook: str | None = None


class Component(BaseModel):
    key: str
    label: str
    weight: float
    effective_weight: float
    value: float | None
    normalized: float | None
    contribution: float
    shortfall: float
    included: bool
    reason_excluded: str | None
    action: str | None
    runbook: str | None


class Driver(BaseModel):
    key: str
    label: str
    normalized: float
    shortfall: float
    action: str | None
    runbook: str | None


class HealthScore(BaseModel):
    score: float | None
    band: Band
    coverage: float
    components: list[Component]
    drivers: list[Driver]
    excluded: list[str]


def normalize(value: float, *, good: float, bad: float) -> float:
    """Map ``value`` to 0 (at or beyond ``bad``) … 100 (at or beyond ``good``)."""
    if good == bad:
        raise ValueError("good and bad thresholds must differ")
    fraction = (value - bad) / (good - bad)
    return round(100.0 * min(1.0, max(0.0, fraction)), 6)


def band_of(score: float | None) -> Band:
    if score is None:
        return "insufficient_data"
    if score < AT_RISK_BELOW:
        return "at_risk"
    if score < HEALTHY_FROM:
        return "watch"
    return "healthy"


def score_components(inputs: Sequence[ComponentInput], *, drivers: int = 3) -> HealthScore:
    """Combine components into a 0–100 score with its drivers and exclusions."""
    total_weight = sum(c.weight for c in inputs if c.weight > 0)
    included = [c for c in inputs if c.value is not None and c.weight > 0]
    included_ids = {id(c) for c in included}
    included_weight = sum(c.weight for c in included)
    coverage = included_weight / total_weight if total_weight else 0.0
    scored = included_weight > 0 and coverage >= MIN_COVERAGE
    components: list[Component] = []
    for c in inputs:
        is_in = scored and id(c) in included_ids
        normalized = normalize(c.value, good=c.good, bad=c.bad) if c.value is not None else None
        effective = c.weight / included_weight if is_in else 0.0
        contribution = effective * normalized if is_in and normalized is not None else 0.0
        shortfall = effective * (100.0 - normalized) if is_in and normalized is not None else 0.0
        reason = None
        if not is_in:
            reason = c.reason_missing or (
                "too little data overall to score" if c.value is not None else "no data"
            )
        components.append(
            Component(
                key=c.key,
                label=c.label,
                weight=c.weight,
                effective_weight=round(effective, 6),
                value=c.value,
                normalized=normalized,
                contribution=round(contribution, 6),
                shortfall=round(shortfall, 6),
                included=is_in,
                reason_excluded=reason,
                action=c.action,
                runbook=c.runbook,
            )
        )
    score = round(sum(c.contribution for c in components), 1) if scored else None
    ranked = sorted(
        (c for c in components if c.included and c.shortfall > 0),
        key=lambda c: (-c.shortfall, c.key),
    )
    return HealthScore(
        score=score,
        band=band_of(score),
        coverage=round(coverage, 6),
        components=components,
        drivers=[
            Driver(
                key=c.key,
                label=c.label,
                normalized=c.normalized if c.normalized is not None else 0.0,
                shortfall=c.shortfall,
                action=c.action,
                runbook=c.runbook,
            )
            for c in ranked[:drivers]
        ],
        excluded=[c.key for c in components if not c.included],
    )

"""Alert rules: validated parameters per kind, the shipped defaults, and the pure rule logic.

Nothing here touches the database, so every rule's maths is testable with plain numbers.
"""

from __future__ import annotations

import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orgpulse.core.errors import InvalidInput

RuleKind = Literal[
    "health_below", "score_drop", "metric_decline", "freshness_lag", "job_failure",
    "security_signal",
]
Channel = Literal["inapp", "email", "webhook"]
CHANNELS: tuple[Channel, ...] = ("inapp", "email", "webhook")
# Scale factor that makes the MAD a consistent estimator of the standard deviation (normal data).
MAD_SCALE = 1.4826
# The pseudo-metric "every stored event except profile and org updates".
EVENTS_TOTAL = "events_total"
DEFAULTS_FILE = Path(__file__).parent / "defaults.toml"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthBelowParams(_Params):
    threshold: float = Field(default=50.0, ge=0, le=100)


class ScoreDropParams(_Params):
    points: float = Field(default=15.0, gt=0, le=100)
    days: int = Field(default=14, ge=1, le=90)


class MetricDeclineParams(_Params):
    metrics: tuple[str, ...] = Field(default=(EVENTS_TOTAL,), min_length=1, max_length=10)
    weeks: int = Field(default=8, ge=3, le=26)
    mad_k: float = Field(default=3.0, gt=0, le=10)
    min_drop: float = Field(default=0.3, gt=0, lt=1)
    min_baseline: float = Field(default=20.0, ge=0)


class FreshnessLagParams(_Params):
    lag_minutes: int = Field(default=2880, ge=5)


class NoParams(_Params):
    pass


PARAM_MODELS: dict[str, type[_Params]] = {
    "health_below": HealthBelowParams,
    "score_drop": ScoreDropParams,
    "metric_decline": MetricDeclineParams,
    "freshness_lag": FreshnessLagParams,
    "job_failure": NoParams,
    "security_signal": NoParams,
}
# Rules about one org; the others are platform alerts (org_id NULL) for platform admins.
ORG_KINDS = frozenset({"health_below", "score_drop", "metric_decline", "freshness_lag"})


def validate_params(kind: str, params: Mapping[str, Any]) -> _Params:
    """Return the parsed parameters of a rule; a bad value is a 422 naming ``params.<field>``."""
    model = PARAM_MODELS.get(kind)
    if model is None:
        raise InvalidInput(f"unknown rule kind {kind!r}")
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        details = [
            {
                "field": "params." + ".".join(str(p) for p in err["loc"]),
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details)
        raise InvalidInput(f"invalid rule parameters: {fields}", details=details) from None


class DefaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RuleKind
    title: str = Field(min_length=1)
    channels: tuple[Channel, ...] = ("inapp",)
    notify_org_admins: bool = False
    cooldown_minutes: int = Field(default=1440, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)


@cache
def default_rules() -> dict[str, DefaultRule]:
    """The shipped rules (``defaults.toml``), keyed by rule key, parameters validated."""
    raw = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    rules = {key: DefaultRule.model_validate(value) for key, value in raw["rules"].items()}
    for rule in rules.values():
        validate_params(rule.kind, rule.params)
    return rules


@dataclass(frozen=True)
class Finding:
    """One condition that holds now: what to open (or keep open) an alert about."""

    org_id: int | None
    subject: str
    value: float | None
    threshold: float | None
    message: str
    severity: str = "warning"
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- pure rule logic
def health_below(score: float | None, *, threshold: float) -> bool:
    """Fire when the latest score exists and is below the threshold."""
    return score is not None and score < threshold


def score_drop(latest: float | None, earlier: Sequence[float], *, points: float) -> float | None:
    """Return the drop from the best earlier score to the latest when it is ≥ ``points``."""
    if latest is None or not earlier:
        return None
    drop = max(earlier) - latest
    return drop if drop >= points else None


@dataclass(frozen=True)
class Decline:
    current: float
    median: float
    mad: float
    floor: float  # the value the current week must fall below to fire


def metric_decline(
    current: float,
    baseline: Sequence[float],
    *,
    mad_k: float,
    min_drop: float,
    min_baseline: float,
) -> Decline | None:
    """Compare the current week with its baseline weeks (robustly); return the decline or None.

    Fires when the current week is below ``median − k·MAD·1.4826`` *and* below
    ``median·(1 − min_drop)``. Median and MAD ignore one outlying week (a holiday) entirely, and
    the relative floor keeps a very steady series (MAD ≈ 0) from paging on small noise. A
    baseline whose median is below ``min_baseline`` is too thin to judge.
    """
    if not baseline:
        return None
    median = float(statistics.median(baseline))
    if median < min_baseline or median <= 0:
        return None
    mad = float(statistics.median(abs(v - median) for v in baseline))
    floor = min(median - mad_k * mad * MAD_SCALE, median * (1 - min_drop))
    if current < floor:
        return Decline(current=current, median=median, mad=mad, floor=floor)
    return None


def freshness_lag(age_minutes: float | None, *, lag_minutes: int) -> bool:
    """Fire when the newest event is older than the allowed lag (no data at all: quiet)."""
    return age_minutes is not None and age_minutes > lag_minutes

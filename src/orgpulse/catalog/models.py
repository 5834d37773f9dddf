"""Catalog definitions: metrics, pairs, funnels, blockers and health-score profiles (validated,
frozen)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MetricKind = Literal[
    "active_share",
    "count",
    "distinct",
    "ratio",
    "backlog",
    "timely_share",
    "completion",
    "active_units",
    "coverage",
    "checklist",
    "external",
]
EventName = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pair(_Strict):
    """An "open" event closed by a later event with the same key property (e.g. scoring).

    Without ``close`` the pair only records who opened each item (e.g. who created an
    assignment), so other pairs can refer to it through their ``ref``.
    """

    open: EventName
    close: EventName | None = None
    key: str = Field(min_length=1)
    ref: str | None = None


class Funnel(_Strict):
    """Members moving through the numbered steps of one subject (e.g. a course's lessons)."""

    start: EventName
    step: EventName
    key: str = Field(min_length=1)
    step_property: str = Field(min_length=1)
    total_property: str | None = None


class Population(_Strict):
    """Which members a metric is about; ``role`` matches the member's identify trait."""

    role: str | None = None


class Metric(_Strict):
    """One metric: what it counts, how to read it, and what to do when it is bad."""

    key: str
    kind: MetricKind
    label: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    direction: Literal["higher", "lower"] = "higher"
    good: float | None = None
    bad: float | None = None
    min_denominator: int = Field(default=1, ge=1)
    window_days: int = Field(default=30, ge=1, le=366)
    format: Literal["percent", "count", "number"] = "number"
    population: Population = Population()
    events: tuple[EventName, ...] = ()
    numerator: tuple[EventName, ...] = ()
    denominator: tuple[EventName, ...] = ()
    pair: str | None = None
    funnel: str | None = None
    older_than_days: int = Field(default=7, ge=0)
    within_days: int = Field(default=7, ge=0)
    tag_property: str | None = Field(default=None, min_length=1)
    required_trait: str | None = Field(default=None, min_length=1)
    action: str | None = None
    runbook: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Metric:
        if (self.good is None) != (self.bad is None):
            raise ValueError("set both good and bad thresholds, or neither")
        if self.good is not None and self.bad is not None:
            if self.good == self.bad:
                raise ValueError("good and bad thresholds must differ")
            if (self.direction == "higher") != (self.good > self.bad):
                raise ValueError(
                    f"direction is {self.direction!r} but good={self.good} and bad={self.bad} "
                    "point the other way"
                )
        needs: dict[str, tuple[str, ...]] = {
            "count": ("events",),
            "ratio": ("numerator", "denominator"),
            "backlog": ("pair",),
            "timely_share": ("pair",),
            "completion": ("funnel",),
            "active_units": (),
            "coverage": ("events", "tag_property", "required_trait"),
        }
        for name in needs.get(self.kind, ()):
            if not getattr(self, name):
                raise ValueError(f"kind {self.kind!r} requires {name!r}")
        for name in ("tag_property", "required_trait"):
            if self.kind != "coverage" and getattr(self, name) is not None:
                raise ValueError(f"{name!r} applies only to kind 'coverage'")
        return self

    @property
    def scorable(self) -> bool:
        """Whether the metric has thresholds, so it can be a health-score component."""
        return self.good is not None and self.bad is not None


class Blocker(_Strict):
    """Something that stops a rollout, with what to do about it.

    It is active when the org has never sent any of ``missing_events`` (e.g. no roster sync
    ever completed), or when ``metric`` is on the bad side of its ``bad`` threshold.
    """

    key: str
    label: str = Field(min_length=1)
    action: str = Field(min_length=1)
    runbook: str | None = None
    missing_events: tuple[EventName, ...] = ()
    metric: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_condition(self) -> Blocker:
        if bool(self.missing_events) == (self.metric is not None):
            raise ValueError("set exactly one condition: 'missing_events' or 'metric'")
        return self


class Adoption(_Strict):
    """The adoption list: who the people are and which events show their adoption."""

    role: str = "teacher"
    login_events: tuple[EventName, ...] = ("Login",)
    created_pair: str = "assignments"
    work_pair: str = "scoring"
    window_days: int = Field(default=30, ge=1, le=366)
    inactive_days: int = Field(default=14, ge=1, le=366)
    backlog_days: int = Field(default=7, ge=0)
    backlog_threshold: int = Field(default=5, ge=1)


class Aggregate(_Strict):
    """Which metrics the aggregate (employer) view shows on its Engagement and Wellbeing tabs.

    Only people-count metrics (kinds ``distinct`` and ``active_share`` over the whole cohort)
    may be listed: the aggregate view publishes counts of distinct people and shares of the
    cohort, each suppressed below the org's minimum cohort size, never event counts.
    """

    engagement: tuple[str, ...] = ()
    wellbeing: tuple[str, ...] = ()


class Catalog(_Strict):
    """Every metric, projection and profile of a deployment."""

    metrics: dict[str, Metric]
    pairs: dict[str, Pair] = {}
    funnels: dict[str, Funnel] = {}
    profiles: dict[str, dict[str, float]] = {}
    blockers: dict[str, Blocker] = {}
    adoption: Adoption = Adoption()
    aggregate: Aggregate = Aggregate()
    sources: tuple[str, ...] = ()

    def metric(self, key: str) -> Metric:
        return self.metrics[key]

    def profile(self, name: str | None) -> dict[str, float]:
        """Return the weights of a profile, falling back to ``default``."""
        if name and name in self.profiles:
            return self.profiles[name]
        return self.profiles.get("default", {})

    def profile_name_for(self, *, rollout_mode: str | None, kind: str | None) -> str:
        """The profile that scores an org: its rollout mode's, else its kind's, else default."""
        for name in (rollout_mode, kind):
            if name and name in self.profiles:
                return name
        return "default"

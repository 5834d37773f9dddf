"""Compute catalog metrics for one org (optionally some of its units) and one window.

Counts and ratios come from the daily rollups in one query; distinct actors, populations, pairs
and funnels each take one indexed query over their projection. Windows are the org's local
calendar days; timestamps (pairs, funnels) are compared with the local midnights that bound them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.catalog import Catalog, Metric
from orgpulse.metrics import queries
from orgpulse.ops import checklist_completion

MetricStatus = Literal["ok", "no_data", "insufficient_data"]


class MetricValue(BaseModel):
    """One metric's value with everything needed to read and explain it."""

    key: str
    label: str
    explanation: str
    kind: str
    format: str
    direction: str
    value: float | None
    numerator: float | None
    denominator: float | None
    window_start: date
    window_end: date
    status: MetricStatus
    detail: str | None = None
    good: float | None = None
    bad: float | None = None
    action: str | None = None
    runbook: str | None = None


class Window(BaseModel):
    """Inclusive range of an org's local calendar days."""

    since: date
    until: date

    @classmethod
    def trailing(cls, today: date, days: int) -> Window:
        """The ``days`` days ending with ``today``."""
        return cls(since=today - timedelta(days=days - 1), until=today)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants of local midnight starting ``since`` and ending ``until``."""
        start = datetime.combine(self.since, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=zone)
        return start, end.astimezone(UTC)


def window_for(metric: Metric, *, today: date, override: Window | None) -> Window:
    """The metric's own trailing window ending today, unless the caller fixes one."""
    return override if override is not None else Window.trailing(today, metric.window_days)


class MetricEngine:
    """Computes metrics for one org; reuse one engine for all metrics of a page."""

    def __init__(
        self,
        conn: Connection,
        *,
        catalog: Catalog,
        org_id: int,
        timezone: str,
        unit_ids: Sequence[int] | None,
    ) -> None:
        self.conn = conn
        self.catalog = catalog
        self.org_id = org_id
        self.zone = ZoneInfo(timezone)
        self.units = list(unit_ids) if unit_ids is not None else None
        self._counts: dict[str, dict[date, int]] | None = None

    def _params(self, **extra: object) -> dict[str, object]:
        return {"org": self.org_id, "units": self.units, **extra}

    def _load_counts(self, metrics: Sequence[Metric], windows: dict[str, Window]) -> None:
        names = sorted(
            {
                n
                for m in metrics
                if m.kind in ("count", "ratio")
                for n in (*m.events, *m.numerator, *m.denominator)
            }
        )
        relevant = [windows[m.key] for m in metrics if m.kind in ("count", "ratio")]
        self._counts = defaultdict(dict)
        if not names or not relevant:
            return
        since = min(w.since for w in relevant)
        until = max(w.until for w in relevant)
        rows = self.conn.execute(
            queries.event_counts_by_day(),
            self._params(since=since, until=until, names=names),
        )
        for name, day, count in rows:
            self._counts[name][day] = int(count)

    def _sum(self, names: Sequence[str], window: Window) -> int:
        counts = self._counts or {}
        return sum(
            n
            for name in names
            for day, n in counts.get(name, {}).items()
            if window.since <= day <= window.until
        )

    def compute(
        self, metrics: Sequence[Metric], *, today: date, override: Window | None = None
    ) -> list[MetricValue]:
        """Compute ``metrics`` for windows ending ``today`` (or the ``override`` window)."""
        windows = {m.key: window_for(m, today=today, override=override) for m in metrics}
        self._load_counts(metrics, windows)
        return [self._one(m, windows[m.key], today=today) for m in metrics]

    def _one(self, metric: Metric, window: Window, *, today: date) -> MetricValue:
        num: float | None
        den: float | None
        value: float | None
        detail: str | None = None
        status: MetricStatus = "ok"
        kind = metric.kind
        role = metric.population.role
        if kind == "count":
            num = value = float(self._sum(metric.events, window))
            den = None
        elif kind == "ratio":
            num = float(self._sum(metric.numerator, window))
            den = float(self._sum(metric.denominator, window))
            value = num / den if den else None
        elif kind in ("distinct", "active_share"):
            num = float(
                self.conn.execute(
                    queries.distinct_actors(),
                    self._params(
                        since=window.since,
                        until=window.until,
                        names=list(metric.events) or None,
                        role=role,
                    ),
                ).scalar_one()
            )
            if kind == "distinct":
                value, den = num, None
            else:
                den = float(
                    self.conn.execute(
                        queries.population_size(),
                        self._params(role=role, end=window.bounds(self.zone)[1]),
                    ).scalar_one()
                )
                value = num / den if den else None
        elif kind == "active_units":
            active, total = self.conn.execute(
                queries.active_units(),
                self._params(
                    since=window.since,
                    until=window.until,
                    names=list(metric.events) or None,
                    role=role,
                ),
            ).one()
            num, den = float(active), float(total)
            value = num if total else None
            if not total:
                status, detail = "no_data", "This organization has no units (schools, sites) yet."
        elif kind in ("backlog", "timely_share"):
            pair = str(metric.pair)  # the catalog guarantees the pair exists
            days = metric.older_than_days if kind == "backlog" else metric.within_days
            start, end = window.bounds(self.zone)
            judged, timely, still_open = self.conn.execute(
                queries.pair_window(),
                self._params(
                    pair=pair,
                    start=start,
                    end=end,
                    cutoff=end - timedelta(days=days),
                    within=days,
                ),
            ).one()
            den = float(judged)
            if kind == "backlog":
                num = value = float(still_open)
            else:
                num = float(timely)
                value = num / den if den else None
        elif kind == "completion":
            funnel = str(metric.funnel)
            start, end = window.bounds(self.zone)
            started, completed = self.conn.execute(
                queries.funnel_completion(),
                self._params(
                    funnel=funnel,
                    start=start,
                    end=end,
                ),
            ).one()
            num, den = float(completed), float(started)
            value = num / den if den else None
        elif kind == "coverage":
            start, end = window.bounds(self.zone)
            required, covered = self.conn.execute(
                queries.coverage(),
                self._params(
                    names=list(metric.events),
                    prop=metric.tag_property,
                    trait=metric.required_trait,
                    start=start,
                    end=end,
                ),
            ).one()
            num, den = float(covered), float(required)
            value = num / den if required else None
            if not required:
                status = "no_data"
                detail = (
                    "No required standards are configured for this organization"
                    f" (its {metric.required_trait!r} trait)."
                )
        elif kind == "checklist":
            progress = checklist_completion(
                conn=self.conn, org_id=self.org_id, until=today, timezone=self.zone.key
            )
            if progress is None:
                num = den = value = None
                status = "no_data"
                detail = "Available once a rollout mode is chosen or the checklist is in use."
            else:
                num, den = float(progress[0]), float(progress[1])
                value = num / den
        else:  # external: a source that arrives with a later capability
            num = den = value = None
            status = "no_data"
            detail = "Available once the external source submits data."
        if status == "ok" and den is not None and den < metric.min_denominator:
            status = "insufficient_data"
            detail = (
                f"Needs at least {metric.min_denominator} to be meaningful; there are {int(den)}."
            )
            if den == 0:
                value = None
        if status == "ok" and value is None:
            status = "no_data"
            detail = "No matching activity in this period."
        return MetricValue(
            key=metric.key,
            label=metric.label,
            explanation=metric.explanation,
            kind=kind,
            format=metric.format,
            direction=metric.direction,
            value=value,
            numerator=num,
            denominator=den,
            window_start=window.since,
            window_end=window.until,
            status=status,
            detail=detail,
            good=metric.good,
            bad=metric.bad,
            action=metric.action,
            runbook=metric.runbook,
        )

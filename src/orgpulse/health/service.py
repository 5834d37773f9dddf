"""An org's (or unit's) health score from its catalog metrics, with trend from snapshots."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.health.blockers import (
    ActiveBlocker,
    active_blockers,
    blocker_events,
    blocker_metrics,
)
from orgpulse.health.scoring import ComponentInput, HealthScore, score_components
from orgpulse.metrics import (
    MetricValue,
    OrgView,
    UnitRef,
    compute_for_view,
    event_totals,
    org_view,
)


class Trend(BaseModel):
    change_7d: float | None
    change_30d: float | None
    points: list[tuple[date, float | None]]


class OrgHealth(BaseModel):
    org_id: int
    slug: str
    name: str
    unit: UnitRef | None
    as_of: datetime
    day: date
    profile: str
    health: HealthScore
    trend: Trend
    blockers: list[ActiveBlocker]


def profile_for(catalog: Catalog, view: OrgView) -> str:
    """The org's profile: its rollout mode's when the catalog has one, else its kind's."""
    return catalog.profile_name_for(rollout_mode=view.rollout_mode, kind=view.kind)


def score_view(
    conn: Connection, *, catalog: Catalog, view: OrgView, day: date, profile: str | None = None
) -> tuple[HealthScore, list[MetricValue]]:
    """Score one org view as of the end of ``day`` (profile: the org's unless given)."""
    profile = profile or profile_for(catalog, view)
    weights = catalog.profile(profile)
    values = compute_for_view(
        conn, catalog=catalog, view=view, keys=list(weights), today=day, window=None
    )
    inputs = []
    for value in values:
        metric = catalog.metrics[value.key]
        usable = value.status == "ok" and value.value is not None
        inputs.append(
            ComponentInput(
                key=value.key,
                label=metric.label,
                weight=weights[value.key],
                value=value.value if usable else None,
                good=float(metric.good if metric.good is not None else 1),
                bad=float(metric.bad if metric.bad is not None else 0),
                reason_missing=None if usable else (value.detail or "no data"),
                action=metric.action,
                runbook=metric.runbook,
            )
        )
    return score_components(inputs), values


def blockers_of(
    conn: Connection,
    *,
    catalog: Catalog,
    view: OrgView,
    day: date,
    computed: list[MetricValue],
) -> list[ActiveBlocker]:
    """The catalog blockers active for the view (``computed``: metrics already at hand)."""
    have = {v.key for v in computed}
    missing = [k for k in blocker_metrics(catalog.blockers) if k not in have]
    values = computed + compute_for_view(
        conn, catalog=catalog, view=view, keys=missing, today=day, window=None
    )
    totals = event_totals(conn, org_id=view.org_id, names=blocker_events(catalog.blockers))
    return active_blockers(catalog.blockers, metrics=values, event_totals=totals)


def trend_of(
    conn: Connection, *, org_id: int, unit_id: int, day: date, current: float | None, weeks: int
) -> Trend:
    """Daily snapshot scores for ``weeks`` weeks up to ``day``, and the 7/30-day change."""
    since = day - timedelta(days=7 * weeks - 1)
    rows: dict[date, object] = {
        r[0]: r[1]
        for r in conn.execute(
            text(
                "SELECT day, score FROM health_snapshots WHERE org_id = :o AND unit_id = :u"
                " AND day BETWEEN :since AND :until"
            ),
            {"o": org_id, "u": unit_id, "since": since, "until": day},
        )
    }
    points = [
        (since + timedelta(days=i), _float(rows.get(since + timedelta(days=i))))
        for i in range((day - since).days + 1)
    ]
    if current is not None:
        points[-1] = (day, current)

    def change(days: int) -> float | None:
        before = _float(rows.get(day - timedelta(days=days)))
        return None if before is None or current is None else round(current - before, 1)

    return Trend(change_7d=change(7), change_30d=change(30), points=points)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def org_health(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    now: datetime,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    weeks: int = 8,
) -> OrgHealth:
    """Return the current health score with components, drivers, trend and active blockers."""
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    profile = profile_for(catalog, view)
    day = clock.local_date(now, view.timezone)
    health, values = score_view(conn, catalog=catalog, view=view, day=day, profile=profile)
    blockers = blockers_of(conn, catalog=catalog, view=view, day=day, computed=values)
    # Org-level snapshots are unit 0; a viewer held to several units has no single trend.
    if view.unit_ids is None:
        unit_id = 0
    elif len(view.unit_ids) == 1:
        unit_id = view.unit_ids[0]
    else:
        unit_id = -1
    trend = trend_of(
        conn, org_id=org_id, unit_id=unit_id, day=day, current=health.score, weeks=weeks
    )
    return OrgHealth(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        unit=view.unit,
        as_of=now,
        day=day,
        profile=profile,
        health=health,
        trend=trend,
        blockers=blockers,
    )

"""Metrics of one org as the API, pages and exports show them (one service for all renderers)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, NotFound
from orgpulse.core.tenancy import require_org
from orgpulse.metrics import queries
from orgpulse.metrics.engine import MetricEngine, MetricValue, Window
from orgpulse.metrics.scope import OrgView, UnitRef, org_view

MAX_WINDOW_DAYS = 366


class OrgMetrics(BaseModel):
    """Every catalog metric of one org (or some of its units), as of one time."""

    org_id: int
    slug: str
    name: str
    timezone: str
    as_of: datetime
    today: date
    unit: UnitRef | None
    units: list[UnitRef]
    window: Window | None
    metrics: list[MetricValue]

    def get(self, key: str) -> MetricValue:
        return next(m for m in self.metrics if m.key == key)


def resolve_window(*, since: date | None, until: date | None, today: date) -> Window | None:
    """Validate an explicit window: both ends, or none (each metric's own trailing window)."""
    if since is None and until is None:
        return None
    if since is None or until is None:
        raise InvalidInput("give both from and to, or neither")
    if since > until:
        raise InvalidInput(f"from ({since}) is after to ({until})")
    if (until - since).days + 1 > MAX_WINDOW_DAYS:
        raise InvalidInput(f"the window may span at most {MAX_WINDOW_DAYS} days")
    return Window(since=since, until=until)


def compute_for_view(
    conn: Connection,
    *,
    catalog: Catalog,
    view: OrgView,
    keys: list[str] | None,
    today: date,
    window: Window | None,
) -> list[MetricValue]:
    """Compute the catalog metrics named by ``keys`` (all when None) for an org view."""
    chosen = (
        [catalog.metrics[k] for k in keys] if keys is not None else list(catalog.metrics.values())
    )
    engine = MetricEngine(
        conn, catalog=catalog, org_id=view.org_id, timezone=view.timezone, unit_ids=view.unit_ids
    )
    return engine.compute(chosen, today=today, override=window)


def org_metrics(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    now: datetime,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> OrgMetrics:
    """Return every catalog metric for the org (or unit) with value, numerator and denominator.

    Without ``since``/``until`` each metric uses its own trailing window ending on the org's
    local today; with both, every metric uses that window.
    """
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    today = clock.local_date(now, view.timezone)
    window = resolve_window(since=since, until=until, today=today)
    values = compute_for_view(
        conn, catalog=catalog, view=view, keys=None, today=today, window=window
    )
    return OrgMetrics(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        timezone=view.timezone,
        as_of=now,
        today=today,
        unit=view.unit,
        units=view.units,
        window=window,
        metrics=values,
    )


def event_totals(conn: Connection, *, org_id: int, names: list[str]) -> dict[str, int]:
    """The whole org's all-time count of each event name (names never received are absent)."""
    require_org(conn, org_id)
    if not names:
        return {}
    rows = conn.execute(queries.event_totals(), {"org": org_id, "names": names})
    return {name: int(total) for name, total in rows}


TREND_WEEKS = (8, 26, 52)


class TrendPoint(BaseModel):
    week_end: date
    value: float | None
    numerator: float | None
    denominator: float | None
    status: str


class MetricTrend(BaseModel):
    org_id: int
    slug: str
    name: str
    unit: UnitRef | None
    metric: MetricValue
    weeks: int
    points: list[TrendPoint]


def metric_trend(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    key: str,
    now: datetime,
    weeks: int = 8,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
) -> MetricTrend:
    """One metric as of the end of each of the last ``weeks`` weeks (its own window each time)."""
    if key not in catalog.metrics:
        raise NotFound(f"no metric {key!r} in the catalog")
    if weeks not in TREND_WEEKS:
        raise InvalidInput(f"weeks must be one of {', '.join(map(str, TREND_WEEKS))}")
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    today = clock.local_date(now, view.timezone)
    metric = catalog.metrics[key]
    engine = MetricEngine(
        conn, catalog=catalog, org_id=org_id, timezone=view.timezone, unit_ids=view.unit_ids
    )
    values = [
        engine.compute([metric], today=today - timedelta(days=7 * back))[0]
        for back in range(weeks - 1, -1, -1)
    ]
    points = [
        TrendPoint(
            week_end=v.window_end,
            value=v.value if v.status == "ok" else None,
            numerator=v.numerator,
            denominator=v.denominator,
            status=v.status,
        )
        for v in values
    ]
    return MetricTrend(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        unit=view.unit,
        metric=values[-1],
        weeks=weeks,
        points=points,
    )

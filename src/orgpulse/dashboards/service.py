"""Org overview and org list: the numbers every renderer (HTML, JSON, CSV, PDF) shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.dashboards import queries
from orgpulse.metrics.engine import Window
from orgpulse.metrics.queries import distinct_actors
from orgpulse.metrics.scope import UnitRef, org_view

# "Active members" means one thing everywhere: the metric engine's distinct-actors query.
ACTIVE_MEMBERS = distinct_actors()
FreshnessStatus = Literal["fresh", "stale", "no_data"]


class Freshness(BaseModel):
    newest_event_at: datetime | None
    last_rollup_at: datetime | None
    age_seconds: int | None
    status: FreshnessStatus


class DailyPoint(BaseModel):
    day: date
    events: int
    active_members: int


class EventCount(BaseModel):
    name: str
    events: int


class OrgOverview(BaseModel):
    """The org overview page, as numbers."""

    org_id: int
    slug: str
    name: str
    external_id: str
    as_of: datetime
    period_days: int
    period_start: date
    period_end: date
    unit: UnitRef | None
    units: list[UnitRef]
    members_total: int
    active_7d: int
    active_30d: int
    events_total: int
    events_by_name: list[EventCount]
    daily: list[DailyPoint]
    freshness: Freshness


class OrgSummary(BaseModel):
    """One org of the list. For an org its viewer sees as aggregates only, ``aggregate_only`` is
    true, people counts below the org's k are None, and no event count or timestamp is given."""

    slug: str
    name: str
    members: int | None
    active_7d: int | None
    events_total: int | None
    freshness: Freshness
    aggregate_only: bool = False


class OrgList(BaseModel):
    orgs: list[OrgSummary]
    total: int
    page: int
    per_page: int


def freshness_of(
    newest: datetime | None, last_rollup: datetime | None, *, now: datetime, amber_seconds: int
) -> Freshness:
    """Classify data freshness: amber ('stale') when the newest event is older than the limit."""
    if newest is None:
        return Freshness(
            newest_event_at=None, last_rollup_at=None, age_seconds=None, status="no_data"
        )
    age = max(0, int((now - newest).total_seconds()))
    return Freshness(
        newest_event_at=newest,
        last_rollup_at=last_rollup,
        age_seconds=age,
        status="stale" if age > amber_seconds else "fresh",
    )


def _window(today: date, days: int) -> tuple[date, date]:
    window = Window.trailing(today, days)
    return window.since, window.until


def org_overview(
    *,
    conn: Connection,
    org_id: int,
    now: datetime,
    days: int = 30,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    amber_seconds: int = 600,
) -> OrgOverview:
    """Return the overview of one org (optionally one unit) for the last ``days`` days.

    ``allowed_unit_ids`` restricts a unit admin to their units; ``None`` means the whole org.
    """
    if not 1 <= days <= 366:
        raise InvalidInput("days must be between 1 and 366")
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    unit_ids = view.unit_ids
    today = clock.local_date(now, view.timezone)
    since, until = _window(today, days)
    params = {"org": org_id, "since": since, "until": until, "units": unit_ids}
    events = {r[0]: int(r[1]) for r in conn.execute(queries.daily_events(), params)}
    active = {r[0]: int(r[1]) for r in conn.execute(queries.daily_active(), params)}
    daily = [
        DailyPoint(
            day=since + timedelta(days=i),
            events=events.get(since + timedelta(days=i), 0),
            active_members=active.get(since + timedelta(days=i), 0),
        )
        for i in range(days)
    ]
    by_name = [
        EventCount(name=r[0], events=int(r[1]))
        for r in conn.execute(queries.events_by_name(), params)
    ]

    def active_in(window_days: int) -> int:
        s, u = _window(today, window_days)
        value = conn.execute(
            ACTIVE_MEMBERS, {**params, "since": s, "until": u, "names": None, "role": None}
        ).scalar_one()
        return int(value)

    state = conn.execute(queries.rollup_state(), {"org": org_id}).first()
    return OrgOverview(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        external_id=view.external_id,
        as_of=now,
        period_days=days,
        period_start=since,
        period_end=until,
        unit=view.unit,
        units=view.units,
        members_total=int(conn.execute(queries.member_count(), params).scalar_one()),
        active_7d=active_in(7),
        active_30d=active_in(30),
        events_total=sum(e.events for e in by_name),
        events_by_name=by_name,
        daily=daily,
        freshness=freshness_of(
            state[0] if state else None,
            state[1] if state else None,
            now=now,
            amber_seconds=amber_seconds,
        ),
    )


def without_timestamps(freshness: Freshness) -> Freshness:
    """The freshness badge of an aggregate-only org: its status, never an event's time."""
    return Freshness(
        newest_event_at=None, last_rollup_at=None, age_seconds=None, status=freshness.status
    )


def at_least_k(people: int, k: int) -> int | None:
    """A people count as an aggregate-only viewer may see it: None below ``k``."""
    return people if people >= k else None


def list_orgs(
    *,
    conn: Connection,
    now: datetime,
    page: int = 1,
    per_page: int = 50,
    amber_seconds: int = 600,
    unit_restrictions: Mapping[int, Sequence[int]] | None = None,
    aggregate_only_orgs: frozenset[int] = frozenset(),
) -> OrgList:
    """Return one page of the orgs in the connection's scope, by name.

    ``unit_restrictions`` maps an org to the units whose numbers may be shown (a unit admin's);
    orgs not in it show whole-org numbers. Orgs in ``aggregate_only`` mode, and the orgs in
    ``aggregate_only_orgs`` (where the viewer is an employer viewer), show people counts of at
    least the org's k only, no event count and no timestamp (docs/privacy.md).
    """
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("page must be ≥ 1 and per_page between 1 and 500")
    rows = conn.execute(
        queries.org_list(),
        {"now": now, "limit": per_page, "offset": (page - 1) * per_page},
    ).all()
    restricted = unit_restrictions or {}
    orgs = []
    for r in rows:
        members, active_7d, events_total = int(r[6]), int(r[5]), int(r[4] or 0)
        if r[0] in restricted:
            since, until = _window(clock.local_date(now, r[7]), 7)
            params = {"org": r[0], "since": since, "until": until, "units": list(restricted[r[0]])}
            members = int(conn.execute(queries.member_count(), params).scalar_one())
            active_7d = int(
                conn.execute(ACTIVE_MEMBERS, {**params, "names": None, "role": None}).scalar_one()
            )
            events_total = int(conn.execute(queries.events_all_time(), params).scalar_one())
        freshness = freshness_of(r[3], None, now=now, amber_seconds=amber_seconds)
        if r[8] == "aggregate_only" or r[0] in aggregate_only_orgs:
            k = int(r[9])
            summary = OrgSummary(
                slug=r[1],
                name=r[2],
                members=at_least_k(members, k),
                active_7d=at_least_k(active_7d, k),
                events_total=None,
                freshness=without_timestamps(freshness),
                aggregate_only=True,
            )
        else:
            summary = OrgSummary(
                slug=r[1],
                name=r[2],
                members=members,
                active_7d=active_7d,
                events_total=events_total,
                freshness=freshness,
            )
        orgs.append(summary)
    total = int(conn.execute(queries.org_count()).scalar_one())
    return OrgList(orgs=orgs, total=total, page=page, per_page=per_page)

"""Portfolio (seed 004): every account in reach with health, trend, top driver and freshness,
plus the VP's per-account-manager aggregates and top/bottom accounts for a month."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.auth import Principal
from orgpulse.catalog import Catalog
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import TenantScope
from orgpulse.dashboards.service import Freshness, freshness_of, without_timestamps

SortKey = Literal["name", "score", "change_7d", "change_30d", "last_activity"]
BandFilter = Literal["healthy", "watch", "at_risk", "insufficient_data"]

# Per org, three primary-key probes of the snapshots (latest on or before :until, and exactly 7 and
# 30 days before it), so the cost does not grow with the snapshots' history; the top driver is
# picked in SQL so its JSON never reaches Python. The earlier days are computed one level up
# (``day_7``, ``day_30``): under row-level security a qual holding a non-leakproof operator
# (date minus integer) cannot be an index condition, and the probe would read the org's whole
# history. Staff reading every org use the all-org scope: with the org-id list, RLS searched the
# list for every row and the planner took the org set for a handful of rows (docs/benchmarks.md).
PORTFOLIO_SQL = text(
    """
    WITH managers AS MATERIALIZED (
        SELECT ms.org_id, string_agg(u.display_name, ', ' ORDER BY u.display_name) AS names
        FROM memberships ms JOIN users u ON u.user_id = ms.user_id
        WHERE ms.role = 'account_manager' GROUP BY ms.org_id
    )
    SELECT o.org_id, o.slug, o.name, o.traits ->> 'plan' AS plan,
           s.day, CAST(s.score AS float8), s.status, s.top_driver,
           CAST(s.score - s7.score AS float8) AS change_7d,
           CAST(s.score - s30.score AS float8) AS change_30d,
           st.newest_event_at, st.last_rollup_at, am.names,
           o.privacy_mode = 'aggregate_only' AS aggregate_only,
           CASE WHEN o.privacy_mode = 'aggregate_only' AND o.min_cohort_size >
                     (SELECT count(*) FROM members m WHERE m.org_id = o.org_id)
                THEN true ELSE false END AS below_k
    FROM orgs o
    LEFT JOIN LATERAL (
        SELECT h.day, h.day - 7 AS day_7, h.day - 30 AS day_30, h.score, h.status,
               (SELECT c ->> 'key' FROM jsonb_array_elements(h.components) AS c
                WHERE c ->> 'driver' = '1' LIMIT 1) AS top_driver
        FROM health_snapshots h
        WHERE h.org_id = o.org_id AND h.unit_id = 0 AND h.day <= :until
        ORDER BY h.day DESC LIMIT 1
    ) s ON true
    LEFT JOIN LATERAL (
        SELECT p.score FROM health_snapshots p
        WHERE p.org_id = o.org_id AND p.unit_id = 0 AND p.day = s.day_7
    ) s7 ON true
    LEFT JOIN LATERAL (
        SELECT p.score FROM health_snapshots p
        WHERE p.org_id = o.org_id AND p.unit_id = 0 AND p.day = s.day_30
    ) s30 ON true
    LEFT JOIN rollup_state st ON st.org_id = o.org_id
    LEFT JOIN managers am ON am.org_id = o.org_id
    """
)


class Account(BaseModel):
    org_id: int
    slug: str
    name: str
    plan: str | None
    account_managers: str | None
    score: float | None
    band: str
    scored_on: date | None
    change_7d: float | None
    change_30d: float | None
    top_driver: str | None
    last_activity: datetime | None
    freshness: Freshness
    # An aggregate-only org shows no event time, and no score when it has fewer than k members.
    aggregate_only: bool = False


class ManagerSummary(BaseModel):
    account_manager: str
    accounts: int
    scored: int
    average_score: float | None
    at_risk: int
    declining: int


class Portfolio(BaseModel):
    as_of: datetime
    until: date
    month: str | None
    accounts: list[Account]
    total: int
    page: int
    per_page: int
    bands: dict[str, int]
    managers: list[ManagerSummary]
    top: list[Account]
    bottom: list[Account]
    plans: list[str]


def month_end(month: str) -> date:
    """Last day of ``YYYY-MM``; a clear 422 otherwise."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        return date(year, mon, calendar.monthrange(year, mon)[1])
    except (ValueError, TypeError):
        raise InvalidInput(f"month must look like 2026-10, got {month!r}") from None


def portfolio(
    *,
    conn: Connection,
    catalog: Catalog,
    now: datetime,
    month: str | None = None,
    band: BandFilter | None = None,
    plan: str | None = None,
    account_manager: str | None = None,
    q: str | None = None,
    sort: SortKey = "score",
    descending: bool = False,
    page: int = 1,
    per_page: int | None = 50,
    amber_seconds: int = 600,
) -> Portfolio:
    """Return the accounts in the connection's scope as of today or the end of ``month``.

    ``per_page=None`` returns every matching account (exports).
    """
    if page < 1 or (per_page is not None and not 1 <= per_page <= 500):
        raise InvalidInput("page must be ≥ 1 and per_page between 1 and 500")
    # A month in progress is shown as of today, not as of a day still to come.
    until = min(month_end(month), now.date()) if month else now.date()
    accounts = [_account(r, catalog=catalog, now=now, amber_seconds=amber_seconds)
                for r in conn.execute(PORTFOLIO_SQL, {"until": until}).all()]
    bands = {
        b: sum(1 for a in accounts if a.band == b)
        for b in ("healthy", "watch", "at_risk", "insufficient_data")
    }
    managers = _managers(accounts)
    scored = sorted((a for a in accounts if a.score is not None), key=lambda a: (a.score, a.name))
    needle = (q or "").strip().lower()
    matching = [
        a
        for a in accounts
        if (band is None or a.band == band)
        and (plan is None or a.plan == plan)
        and (account_manager is None or account_manager in (a.account_managers or ""))
        and (not needle or needle in a.name.lower())
    ]
    matching.sort(key=lambda a: a.name.lower())
    if sort != "name":
        present = [a for a in matching if getattr(a, sort) is not None]
        missing = [a for a in matching if getattr(a, sort) is None]
        present.sort(key=lambda a: getattr(a, sort), reverse=descending)
        matching = present + missing  # accounts without a value always last
    elif descending:
        matching.reverse()
    return Portfolio(
        as_of=now,
        until=until,
        month=month,
        accounts=(
            matching if per_page is None else matching[(page - 1) * per_page : page * per_page]
        ),
        total=len(matching),
        page=page,
        per_page=per_page or len(matching),
        bands=bands,
        managers=managers,
        top=list(reversed(scored[-5:])),
        bottom=scored[:5],
        plans=sorted({a.plan for a in accounts if a.plan}),
    )


def _account(r: Any, *, catalog: Catalog, now: datetime, amber_seconds: int) -> Account:
    freshness = freshness_of(r[10], r[11], now=now, amber_seconds=amber_seconds)
    if not r[13]:
        return Account(
            org_id=r[0],
            slug=r[1],
            name=r[2],
            plan=r[3],
            account_managers=r[12],
            score=r[5],
            band=r[6] or "insufficient_data",
            scored_on=r[4],
            change_7d=r[8],
            change_30d=r[9],
            top_driver=catalog.metrics[r[7]].label if r[7] in catalog.metrics else None,
            last_activity=r[10],
            freshness=freshness,
        )
    # Aggregate-only (docs/privacy.md): the score is a whole-org aggregate, shown only when the
    # org has at least k members; no event time ever.
    shown = not r[14]
    return Account(
        org_id=r[0],
        slug=r[1],
        name=r[2],
        plan=r[3],
        account_managers=r[12],
        score=r[5] if shown else None,
        band=(r[6] or "insufficient_data") if shown else "insufficient_data",
        scored_on=r[4] if shown else None,
        change_7d=r[8] if shown else None,
        change_30d=r[9] if shown else None,
        top_driver=(catalog.metrics[r[7]].label if r[7] in catalog.metrics else None)
        if shown
        else None,
        last_activity=None,
        freshness=without_timestamps(freshness),
        aggregate_only=True,
    )


def _managers(accounts: list[Account]) -> list[ManagerSummary]:
    groups: dict[str, list[Account]] = {}
    for a in accounts:
        for name in (a.account_managers or "Unassigned").split(", "):
            groups.setdefault(name, []).append(a)
    out = []
    for name, items in sorted(groups.items()):
        scores = [a.score for a in items if a.score is not None]
        out.append(
            ManagerSummary(
                account_manager=name,
                accounts=len(items),
                scored=len(scores),
                average_score=round(sum(scores) / len(scores), 1) if scores else None,
                at_risk=sum(1 for a in items if a.band == "at_risk"),
                declining=sum(1 for a in items if (a.change_30d or 0) <= -5),
            )
        )
    return out


def portfolio_scope(principal: Principal) -> TenantScope:
    """The scope the portfolio page reads with: whole-org analytics reach only."""
    orgs = [o for o, units in principal.analytics_reach().items() if units is None]
    if principal.reaches_every_org and len(orgs) == len(principal.org_ids):
        return principal.scope()
    return TenantScope.of(orgs, user_id=principal.user_id)

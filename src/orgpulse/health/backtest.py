"""Backtest: would the health score have flagged churned accounts early, and how noisily?

For every churned org, the score is recomputed as of weekly check days in the ``lookback_days``
before its churn date (metrics only see data up to each check day). Its lead time is the number
of days between the first check that scored "at risk" and the churn date. Every other org is
checked on the same weekly schedule over the ``lookback_days`` before today; one that was ever
"at risk" counts as a false alarm.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import StringIO

from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope
from orgpulse.health.scoring import Band
from orgpulse.health.service import score_view
from orgpulse.metrics import org_view


@dataclass(frozen=True)
class OrgOutcome:
    external_id: str
    name: str
    churned_on: date | None
    checks: int
    scored_checks: int
    first_at_risk: date | None

    @property
    def lead_days(self) -> int | None:
        if self.churned_on is None or self.first_at_risk is None:
            return None
        return (self.churned_on - self.first_at_risk).days


@dataclass
class BacktestReport:
    lookback_days: int
    step_days: int
    churned: list[OrgOutcome] = field(default_factory=list)
    others: list[OrgOutcome] = field(default_factory=list)

    @property
    def flagged(self) -> list[OrgOutcome]:
        return [o for o in self.churned if o.first_at_risk is not None]

    @property
    def flagged_14_days_ahead(self) -> list[OrgOutcome]:
        return [o for o in self.flagged if (o.lead_days or 0) >= 14]

    @property
    def median_lead_days(self) -> float | None:
        leads = [o.lead_days for o in self.flagged if o.lead_days is not None]
        return statistics.median(leads) if leads else None

    @property
    def false_alarms(self) -> list[OrgOutcome]:
        return [o for o in self.others if o.first_at_risk is not None]

    @property
    def scorable_others(self) -> list[OrgOutcome]:
        return [o for o in self.others if o.scored_checks]


def parse_churn_file(content: str) -> dict[str, date]:
    """Read ``org external id, churn date (YYYY-MM-DD)`` rows; a header row is optional."""
    churned: dict[str, date] = {}
    problems = []
    for number, row in enumerate(csv.reader(StringIO(content)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            problems.append(f"line {number}: expected 'org external id, churn date'")
            continue
        org, raw = row[0].strip(), row[1].strip()
        try:
            churned[org] = date.fromisoformat(raw)
        except ValueError:
            if number == 1:  # a header row
                continue
            problems.append(f"line {number}: {raw!r} is not a date (YYYY-MM-DD)")
    if problems:
        raise InvalidInput("the churn file has problems: " + "; ".join(problems))
    if not churned:
        raise InvalidInput("the churn file lists no organizations")
    return churned


def _check_days(end: date, *, lookback_days: int, step_days: int) -> list[date]:
    return [end - timedelta(days=d) for d in range(lookback_days, -1, -step_days)][::-1]


def _first_at_risk(
    conn: Connection, *, catalog: Catalog, org_id: int, days: Iterable[date]
) -> tuple[int, int, date | None]:
    view = org_view(conn, org_id=org_id)
    checks = scored = 0
    for day in sorted(days):
        health, _ = score_view(conn, catalog=catalog, view=view, day=day)
        checks += 1
        band: Band = health.band
        if band != "insufficient_data":
            scored += 1
        if band == "at_risk":
            return checks, scored, day
    return checks, scored, None


def run_backtest(
    conn: Connection,
    *,
    catalog: Catalog,
    churned: dict[str, date],
    now: datetime,
    lookback_days: int = 120,
    step_days: int = 7,
    progress: Callable[[int], None] = lambda n: None,
) -> BacktestReport:
    """Replay weekly health scores before each churn (and before today for the other orgs)."""
    apply_scope(conn, TenantScope.of(all_org_ids(conn)))
    orgs = conn.execute(
        text("SELECT org_id, external_id, name, timezone FROM orgs ORDER BY name")
    ).all()
    known = {o.external_id for o in orgs}
    unknown = sorted(set(churned) - known)
    if unknown:
        raise InvalidInput(f"unknown organization(s) in the churn file: {', '.join(unknown)}")
    report = BacktestReport(lookback_days=lookback_days, step_days=step_days)
    for org in orgs:
        churn = churned.get(org.external_id)
        end = churn if churn is not None else clock.local_date(now, org.timezone)
        days = _check_days(end, lookback_days=lookback_days, step_days=step_days)
        checks, scored, first = _first_at_risk(conn, catalog=catalog, org_id=org.org_id, days=days)
        outcome = OrgOutcome(org.external_id, org.name, churn, checks, scored, first)
        (report.churned if churn is not None else report.others).append(outcome)
        progress(1)
    return report

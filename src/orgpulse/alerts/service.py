"""Alert evaluation (all orgs), dedup/cooldown, routing, the inbox and rule administration."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection

from orgpulse.alerts import queries
from orgpulse.alerts import rules as logic
from orgpulse.alerts.rules import EVENTS_TOTAL, Channel, Finding
from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.errors import InvalidInput, NotFound
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope
from orgpulse.notify import enqueue_email, enqueue_webhook

# Events that describe profiles and orgs rather than product use (not counted as activity).
NON_ACTIVITY = frozenset({"$identify", "$group"})


class Rule(BaseModel):
    rule_key: str
    kind: str
    title: str
    enabled: bool
    params: dict[str, Any]
    notify_org_admins: bool
    channels: list[str]
    cooldown_minutes: int
    updated_at: datetime | None  # None: the shipped default, not stored yet
    updated_by: int | None


class RuleList(BaseModel):
    rules: list[Rule]


class RuleEdit(BaseModel):
    """What an admin may change on a rule (the kind and key are fixed)."""

    enabled: bool
    channels: list[Channel] = Field(min_length=1)
    notify_org_admins: bool
    cooldown_minutes: int = Field(ge=0, le=525_600)
    params: dict[str, Any]


class AlertItem(BaseModel):
    alert_id: int
    rule_key: str
    kind: str
    title: str
    message: str
    status: str
    severity: str
    value: float | None
    threshold: float | None
    subject: str
    details: dict[str, Any]
    opened_at: datetime
    last_evaluated_at: datetime
    resolved_at: datetime | None
    org_id: int | None
    org_slug: str | None
    org_name: str | None
    read: bool
    url: str = ""


class AlertInbox(BaseModel):
    alerts: list[AlertItem]
    status: str | None
    total: int
    unread: int
    page: int
    per_page: int


class Evaluation(BaseModel):
    opened: int = 0
    still_open: int = 0
    resolved: int = 0
    quiet_in_cooldown: int = 0

    def summary(self) -> str:
        return (
            f"opened {self.opened}, still open {self.still_open}, resolved {self.resolved},"
            f" quiet in cooldown {self.quiet_in_cooldown}"
        )


# ---------------------------------------------------------------- rules
def ensure_default_rules(conn: Connection, *, now: datetime) -> None:
    """Insert the shipped rules that are missing; an existing row (an admin's edit) stays."""
    for key, rule in logic.default_rules().items():
        conn.execute(
            queries.INSERT_DEFAULT_RULE,
            {
                "key": key,
                "kind": rule.kind,
                "title": rule.title,
                "params": orjson.dumps(rule.params).decode(),
                "admins": rule.notify_org_admins,
                "channels": "{" + ",".join(rule.channels) + "}",
                "cooldown": rule.cooldown_minutes,
                "now": now,
            },
        )


def _rule(row: Any) -> Rule:
    return Rule(
        rule_key=row[0], kind=row[1], title=row[2], enabled=row[3], params=row[4],
        notify_org_admins=row[5], channels=list(row[6]), cooldown_minutes=row[7],
        updated_at=row[8], updated_by=row[9],
    )


def _shipped(key: str, rule: logic.DefaultRule) -> Rule:
    return Rule(
        rule_key=key, kind=rule.kind, title=rule.title, enabled=True, params=dict(rule.params),
        notify_org_admins=rule.notify_org_admins, channels=list(rule.channels),
        cooldown_minutes=rule.cooldown_minutes, updated_at=None, updated_by=None,
    )


def list_rules(*, conn: Connection) -> RuleList:
    """Every rule: the stored ones, and the shipped defaults not stored yet (a read: the
    defaults are written by the first evaluation or edit, never by looking at them)."""
    rules = {r[0]: _rule(r) for r in conn.execute(queries.RULES)}
    for key, rule in logic.default_rules().items():
        rules.setdefault(key, _shipped(key, rule))
    return RuleList(rules=[rules[k] for k in sorted(rules)])


def get_rule(*, conn: Connection, rule_key: str) -> Rule:
    row = conn.execute(queries.RULE, {"key": rule_key}).first()
    if row is not None:
        return _rule(row)
    shipped = logic.default_rules().get(rule_key)
    if shipped is None:
        raise NotFound(f"no alert rule {rule_key!r}")
    return _shipped(rule_key, shipped)


def parse_edit(data: dict[str, Any]) -> RuleEdit:
    """Validate an edit; a bad value is a 422 that names the field."""
    try:
        return RuleEdit.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details)
        raise InvalidInput(f"invalid alert rule: {fields}", details=details) from None


def _check_metrics(kind: str, params: dict[str, Any], catalog: Catalog) -> None:
    if kind != "metric_decline":
        return
    for key in params.get("metrics", ()):
        metric = catalog.metrics.get(key)
        if key != EVENTS_TOTAL and (metric is None or metric.kind != "count"):
            raise InvalidInput(
                f"params.metrics: {key!r} is not {EVENTS_TOTAL!r} nor a count metric of the"
                " catalog",
                details=[{"field": "params.metrics", "message": f"unknown metric {key!r}"}],
            )


def update_rule(
    *,
    conn: Connection,
    rule_key: str,
    edit: RuleEdit,
    catalog: Catalog,
    user_id: int,
    now: datetime,
) -> tuple[Rule, Rule]:
    """Apply an admin's edit; return the rule before and after (for the audit record)."""
    ensure_default_rules(conn, now=now)
    before = get_rule(conn=conn, rule_key=rule_key)
    params = logic.validate_params(before.kind, edit.params).model_dump(mode="json")
    _check_metrics(before.kind, params, catalog)
    channels = [c for c in logic.CHANNELS if c in edit.channels]
    conn.execute(
        queries.UPDATE_RULE,
        {
            "key": rule_key,
            "enabled": edit.enabled,
            "params": orjson.dumps(params).decode(),
            "admins": edit.notify_org_admins,
            "channels": "{" + ",".join(channels) + "}",
            "cooldown": edit.cooldown_minutes,
            "now": now,
            "user": user_id,
        },
    )
    return before, get_rule(conn=conn, rule_key=rule_key)


# ---------------------------------------------------------------- rule inputs (SQL → findings)
class _Orgs:
    def __init__(self, conn: Connection) -> None:
        self.rows = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(queries.ORGS)}

    def label(self, org_id: int) -> str:
        row = self.rows.get(org_id)
        return row[1] if row else f"org {org_id}"

    def today(self, org_id: int, now: datetime) -> date:
        row = self.rows.get(org_id)
        return clock.local_date(now, row[2] if row else "UTC")


def _health_below(conn: Connection, rule: Rule, orgs: _Orgs, now: datetime) -> list[Finding]:
    p = logic.HealthBelowParams.model_validate(rule.params)
    found = []
    for org_id, day, score in conn.execute(queries.LATEST_SCORES):
        value = None if score is None else float(score)
        if org_id in orgs.rows and logic.health_below(value, threshold=p.threshold):
            found.append(Finding(
                org_id=org_id, subject="", value=value, threshold=p.threshold,
                severity="critical" if value is not None and value < p.threshold / 2
                else "warning",
                message=f"{orgs.label(org_id)}: health score {value:g} on {day} is below"
                f" {p.threshold:g}.",
                details={"day": day.isoformat()},
            ))
    return found


def _score_drop(conn: Connection, rule: Rule, orgs: _Orgs, now: datetime) -> list[Finding]:
    p = logic.ScoreDropParams.model_validate(rule.params)
    since = now.date() - timedelta(days=p.days + 2)
    series: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for org_id, day, score in conn.execute(queries.SCORES_SINCE, {"since": since}):
        series[org_id].append((day, float(score)))
    found = []
    for org_id, points in series.items():
        if org_id not in orgs.rows:
            continue
        latest_day, latest = points[-1]
        earlier = [s for d, s in points[:-1] if d >= latest_day - timedelta(days=p.days)]
        drop = logic.score_drop(latest, earlier, points=p.points)
        if drop is not None:
            found.append(Finding(
                org_id=org_id, subject="", value=drop, threshold=p.points,
                message=f"{orgs.label(org_id)}: health score fell {drop:g} points to"
                f" {latest:g} within {p.days} days.",
                details={"latest": latest, "best_earlier": max(earlier),
                         "day": latest_day.isoformat()},
            ))
    return found


def weekly_totals(
    daily: dict[date, float], *, today: date, weeks: int
) -> tuple[float, list[float]]:
    """Return the last full 7 days before ``today`` and the ``weeks`` 7-day blocks before it."""
    buckets = [0.0] * (weeks + 1)
    for day, value in daily.items():
        index = ((today - day).days - 1) // 7
        if 0 <= index <= weeks and day < today:
            buckets[index] += value
    return buckets[0], buckets[1:]


def _metric_decline(
    conn: Connection, rule: Rule, orgs: _Orgs, now: datetime, catalog: Catalog
) -> list[Finding]:
    p = logic.MetricDeclineParams.model_validate(rule.params)
    utc_today = now.date()
    since = utc_today - timedelta(days=7 * (p.weeks + 1) + 2)
    until = utc_today + timedelta(days=2)
    daily: dict[int, dict[str, dict[date, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    names_of: dict[str, frozenset[str] | None] = {}
    for key in p.metrics:
        metric = catalog.metrics.get(key)
        names_of[key] = None if key == EVENTS_TOTAL or metric is None else frozenset(
            metric.events
        )
    for org_id, day, name, events in conn.execute(
        queries.DAILY_EVENTS, {"since": since, "until": until}
    ):
        for key, names in names_of.items():
            counted = name not in NON_ACTIVITY if names is None else name in names
            if counted:
                daily[org_id][key][day] += float(events)
    found = []
    for org_id in orgs.rows:
        today = orgs.today(org_id, now)
        for key in p.metrics:
            current, baseline = weekly_totals(
                dict(daily[org_id][key]), today=today, weeks=p.weeks
            )
            decline = logic.metric_decline(
                current, baseline, mad_k=p.mad_k, min_drop=p.min_drop,
                min_baseline=p.min_baseline,
            )
            if decline is not None:
                found.append(Finding(
                    org_id=org_id, subject=key, value=current, threshold=decline.floor,
                    message=f"{orgs.label(org_id)}: {key} was {current:g} in the last 7 days,"
                    f" against a median of {decline.median:g} over the {p.weeks} weeks before"
                    f" (alert below {decline.floor:g}).",
                    details={"median": decline.median, "mad": decline.mad,
                             "baseline": baseline, "week_ending": (
                                 today - timedelta(days=1)).isoformat()},
                ))
    return found


def _freshness_lag(conn: Connection, rule: Rule, orgs: _Orgs, now: datetime) -> list[Finding]:
    p = logic.FreshnessLagParams.model_validate(rule.params)
    found = []
    for org_id, newest in conn.execute(queries.FRESHNESS):
        age = max(0.0, (now - newest).total_seconds() / 60)
        if org_id in orgs.rows and logic.freshness_lag(age, lag_minutes=p.lag_minutes):
            found.append(Finding(
                org_id=org_id, subject="", value=round(age), threshold=p.lag_minutes,
                message=f"{orgs.label(org_id)}: newest event is {round(age)} minutes old"
                f" (limit {p.lag_minutes}).",
                details={"newest_event_at": newest.isoformat()},
            ))
    return found


def _job_failure(conn: Connection, rule: Rule) -> list[Finding]:
    return [
        Finding(
            org_id=None, subject=job, value=None, threshold=None, severity="critical",
            message=f"The latest run of job {job!r} (started {started:%Y-%m-%d %H:%M} UTC)"
            f" failed: {detail}",
            details={"started_at": started.isoformat()},
        )
        for job, status, detail, started in conn.execute(queries.LATEST_JOB_RUNS)
        if status == "failed"
    ]


def _security_signal(conn: Connection, rule: Rule) -> list[Finding]:
    return [
        Finding(
            org_id=None, subject=str(alert_id), value=None, threshold=None,
            severity="critical",
            message=f"Security alert #{alert_id} ({kind.replace('_', ' ')}) is unacknowledged;"
            " review it under Security alerts.",
            details={"security_alert_id": alert_id, "kind": kind, "org_id": org_id,
                     "user_id": user_id, "raised_at": raised.isoformat()},
        )
        for alert_id, kind, org_id, user_id, raised in conn.execute(
            queries.OPEN_SECURITY_ALERTS
        )
    ]


def findings_for(
    conn: Connection, *, rule: Rule, orgs: _Orgs, catalog: Catalog, now: datetime
) -> list[Finding]:
    """The conditions of one rule that hold now."""
    if rule.kind == "health_below":
        return _health_below(conn, rule, orgs, now)
    if rule.kind == "score_drop":
        return _score_drop(conn, rule, orgs, now)
    if rule.kind == "metric_decline":
        return _metric_decline(conn, rule, orgs, now, catalog)
    if rule.kind == "freshness_lag":
        return _freshness_lag(conn, rule, orgs, now)
    if rule.kind == "job_failure":
        return _job_failure(conn, rule)
    return _security_signal(conn, rule)


# ---------------------------------------------------------------- evaluation
def alert_url(settings: Settings, alert_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/alerts/{alert_id}"


def evaluate_alerts(conn: Connection, *, settings: Settings, now: datetime) -> Evaluation:
    """Evaluate every rule over every org; open, keep, resolve and route alerts (a disabled
    rule's open alerts resolve).

    Why one transaction: the alert row, its inbox rows and its queued emails and webhooks
    commit together or not at all, so a crash never notifies about an alert that does not exist
    nor raises one nobody hears about. It reads across all orgs like the health snapshots job.
    """
    from orgpulse.catalog import catalog_of

    apply_scope(conn, TenantScope.of(all_org_ids(conn)))
    ensure_default_rules(conn, now=now)
    catalog = catalog_of(settings)
    orgs = _Orgs(conn)
    endpoints = [r[0] for r in conn.execute(queries.WEBHOOK_ENDPOINTS)]
    result = Evaluation()
    for rule in (_rule(r) for r in conn.execute(queries.RULES).all()):
        # A disabled rule finds nothing, so its open alerts resolve (and say so).
        findings = (
            findings_for(conn, rule=rule, orgs=orgs, catalog=catalog, now=now)
            if rule.enabled else []
        )
        _apply(conn, settings=settings, rule=rule, findings=findings, orgs=orgs,
               endpoints=endpoints, now=now, result=result)
    return result


def _key(org_id: int | None, subject: str) -> tuple[int, str]:
    return (org_id or 0, subject)


def _apply(
    conn: Connection,
    *,
    settings: Settings,
    rule: Rule,
    findings: Sequence[Finding],
    orgs: _Orgs,
    endpoints: Sequence[int],
    now: datetime,
    result: Evaluation,
) -> None:
    open_alerts = {
        _key(r[1], r[2]): r[0] for r in conn.execute(queries.OPEN_ALERTS, {"rule": rule.rule_key})
    }
    cooldown_since = now - timedelta(minutes=rule.cooldown_minutes)
    recently_resolved = {
        _key(r[0], r[1])
        for r in conn.execute(
            queries.LAST_RESOLVED, {"rule": rule.rule_key, "since": cooldown_since}
        )
    }
    firing: set[tuple[int, str]] = set()
    for finding in findings:
        key = _key(finding.org_id, finding.subject)
        firing.add(key)
        details = orjson.dumps(finding.details).decode()
        if key in open_alerts:
            conn.execute(queries.TOUCH_ALERT, {"id": open_alerts[key], "now": now,
                                               "value": finding.value,
                                               "message": finding.message,
                                               "details": details})
            result.still_open += 1
            continue
        if key in recently_resolved:
            result.quiet_in_cooldown += 1
            continue
        alert_id = conn.execute(
            queries.INSERT_ALERT,
            {"rule": rule.rule_key, "org": finding.org_id, "subject": finding.subject,
             "severity": finding.severity, "title": rule.title, "message": finding.message,
             "value": finding.value, "threshold": finding.threshold, "details": details,
             "now": now},
        ).scalar()
        if alert_id is None:  # another evaluator opened it a moment ago
            result.still_open += 1
            continue
        result.opened += 1
        _route(conn, settings=settings, rule=rule, alert_id=int(alert_id), finding=finding,
               orgs=orgs, endpoints=endpoints, now=now)
    stale = [alert_id for key, alert_id in open_alerts.items() if key not in firing]
    if stale:
        for row in conn.execute(queries.RESOLVE_ALERTS, {"ids": stale, "now": now}):
            result.resolved += 1
            if "webhook" in rule.channels:
                payload = _payload(settings, rule=rule, alert_id=row[0], org_id=row[1],
                                   orgs=orgs, message=row[4], value=row[5], threshold=row[6],
                                   status="resolved")
                for endpoint in endpoints:
                    enqueue_webhook(conn, endpoint_id=endpoint, event="alert.resolved",
                                    payload=payload, source=f"alert:{row[0]}", now=now)


def _payload(
    settings: Settings,
    *,
    rule: Rule,
    alert_id: int,
    org_id: int | None,
    orgs: _Orgs,
    message: str,
    value: float | None,
    threshold: float | None,
    status: str,
) -> dict[str, Any]:
    org = orgs.rows.get(org_id) if org_id is not None else None
    return {
        "alert_id": alert_id,
        "status": status,
        "rule": {"key": rule.rule_key, "kind": rule.kind, "title": rule.title},
        "org": {"slug": org[0], "name": org[1]} if org else None,
        "value": value,
        "threshold": threshold,
        "message": message,
        "url": alert_url(settings, alert_id),
    }


def recipients(
    conn: Connection, *, org_id: int | None, notify_org_admins: bool
) -> list[tuple[int, str]]:
    """Active users an alert goes to: the org's account managers, every cs_leader, and its
    org admins when the rule allows; platform alerts (no org) go to platform admins."""
    if org_id is None:
        rows = conn.execute(queries.PLATFORM_RECIPIENTS)
    else:
        rows = conn.execute(
            queries.ORG_RECIPIENTS, {"org": org_id, "admins": notify_org_admins}
        )
    return [(r[0], r[1]) for r in rows]


def _route(
    conn: Connection,
    *,
    settings: Settings,
    rule: Rule,
    alert_id: int,
    finding: Finding,
    orgs: _Orgs,
    endpoints: Sequence[int],
    now: datetime,
) -> None:
    url = alert_url(settings, alert_id)
    for user_id, email in recipients(
        conn, org_id=finding.org_id, notify_org_admins=rule.notify_org_admins
    ):
        conn.execute(queries.INSERT_INBOX, {"user": user_id, "alert": alert_id, "now": now})
        if "email" in rule.channels:
            enqueue_email(
                conn, to=email, subject=f"[OrgPulse] {rule.title}",
                body_text=f"{finding.message}\n\nOpen the alert: {url}\n",
                source=f"alert:{alert_id}", now=now, user_id=user_id,
            )
    if "webhook" in rule.channels:
        payload = _payload(settings, rule=rule, alert_id=alert_id, org_id=finding.org_id,
                           orgs=orgs, message=finding.message, value=finding.value,
                           threshold=finding.threshold, status="open")
        for endpoint in endpoints:
            enqueue_webhook(conn, endpoint_id=endpoint, event="alert.opened", payload=payload,
                            source=f"alert:{alert_id}", now=now)


# ---------------------------------------------------------------- inbox
PER_PAGE = 25


def _item(row: Any, settings: Settings) -> AlertItem:
    return AlertItem(
        alert_id=row[0], rule_key=row[1], kind=row[2], title=row[3], message=row[4],
        status=row[5], severity=row[6], value=row[7], threshold=row[8], subject=row[9],
        details=row[10], opened_at=row[11], last_evaluated_at=row[12], resolved_at=row[13],
        org_id=row[17], org_slug=row[14], org_name=row[15], read=row[16],
        url=alert_url(settings, row[0]),
    )


def inbox(
    *,
    conn: Connection,
    settings: Settings,
    user_id: int,
    org_ids: Sequence[int],
    platform: bool,
    status: str | None,
    page: int,
    per_page: int = PER_PAGE,
) -> AlertInbox:
    """The alerts routed to a user that they may still see, newest first, one page."""
    if status not in (None, "open", "resolved"):
        raise InvalidInput("status must be 'open' or 'resolved'")
    if page < 1:
        raise InvalidInput("page must be 1 or more")
    if not 1 <= per_page <= 100:
        raise InvalidInput("per_page must be between 1 and 100")
    params = {"user": user_id, "orgs": list(org_ids), "platform": platform, "status": status}
    total, unread = conn.execute(queries.INBOX_COUNTS, params).one()
    rows = conn.execute(
        queries.INBOX_PAGE, {**params, "limit": per_page, "offset": (page - 1) * per_page}
    )
    return AlertInbox(
        alerts=[_item(r, settings) for r in rows], status=status, total=int(total),
        unread=int(unread), page=page, per_page=per_page,
    )


def unread_count(
    conn: Connection, *, user_id: int, org_ids: Sequence[int], platform: bool
) -> int:
    """Unread alerts of a user that they may still see (the header badge; one query on the
    partial unread index)."""
    return int(conn.execute(
        queries.UNREAD_COUNT, {"user": user_id, "orgs": list(org_ids), "platform": platform}
    ).scalar_one())


def mark_read(
    conn: Connection, *, user_id: int, alert_id: int | None, now: datetime
) -> int:
    """Mark one inbox alert (or, with ``alert_id`` None, all of them) read; return how many."""
    return conn.execute(
        queries.MARK_READ, {"user": user_id, "alert": alert_id, "now": now}
    ).rowcount


def alert_detail(
    *,
    conn: Connection,
    settings: Settings,
    alert_id: int,
    user_id: int,
    org_ids: Sequence[int],
    platform: bool,
    every_org: bool,
) -> AlertItem:
    """One alert, if the user may see it now: it was routed to them (or they reach every org)
    and they still reach its org (platform alerts: platform admins). Otherwise 404."""
    row = conn.execute(queries.ALERT, {"id": alert_id, "user": user_id}).first()
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    org_id, routed = row[17], row[18]
    visible = platform if org_id is None else org_id in org_ids and (routed or every_org)
    if not visible:
        raise NotFound(f"no alert {alert_id}")
    return _item(row, settings)

"""The diagnostics panel of one org: identity, rostering, recording and reporting checks.

Only aggregates and scrubbed error snippets leave this module (see ``ops/scrub.py``): the panel
is read by support staff outside the org, so no person's name, email or id may reach it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.core.tenancy import require_org
from orgpulse.ops import support_queries as queries
from orgpulse.ops.scrub import scrub

# Reserved event names the panel reads (docs/diagnostics.md). They are the catalogued names the
# demo and the metric catalog already use; the message is the `error` property (`reason` for a
# failed sign-in).
SSO_CONFIGURED = "SSO Configured"
LOGIN = "Login"
LOGIN_FAILED = "Login Failed"
SYNC_COMPLETED = "Roster Sync Completed"
SYNC_FAILED = "Roster Sync Failed"
UPLOAD_STARTED = "Upload Started"
UPLOAD_FAILED = "Upload Failed"
ERROR_EVENTS = (LOGIN_FAILED, SYNC_FAILED, UPLOAD_FAILED)

WINDOW = timedelta(days=7)
TOP_ERRORS_WINDOW = timedelta(days=30)
TOP_ERRORS = 5

Status = Literal["ok", "warning", "problem", "no_data"]

RUNBOOKS = {
    "identity": "/docs/runbooks/sso-misconfiguration",
    "scim": "/docs/runbooks/scim-conflicts",
    "rostering": "/docs/runbooks/rostering-sync-failures",
    "recording": "/docs/runbooks/upload-failures",
    "reporting": "/docs/runbooks/reporting-discrepancies",
    "support": "/docs/runbooks/org-analytics-support",
}


class ErrorCount(BaseModel):
    message: str  # scrubbed
    count: int
    last_at: datetime


class Link(BaseModel):
    label: str
    href: str


class Identity(BaseModel):
    status: Status
    sso_configured: bool
    sso_configured_at: datetime | None
    sso_provider: str | None
    logins_7d: int
    login_failures_7d: int
    login_failure_rate_7d: float | None
    recent_login_errors: list[ErrorCount]
    links: list[Link]


class Rostering(BaseModel):
    status: Status
    last_sync_status: Literal["succeeded", "failed", "never"]
    last_sync_at: datetime | None
    last_sync_error: str | None  # scrubbed
    last_success_at: datetime | None
    syncs_succeeded_7d: int
    syncs_failed_7d: int
    top_errors_30d: list[ErrorCount]
    links: list[Link]


class Recording(BaseModel):
    status: Status
    uploads_started_7d: int
    uploads_failed_7d: int
    upload_failure_rate_7d: float | None
    common_errors_7d: list[ErrorCount]
    links: list[Link]


class JobState(BaseModel):
    job: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    detail: str  # scrubbed


class Reporting(BaseModel):
    status: Status
    newest_event_at: datetime | None
    last_rollup_at: datetime | None
    data_age_seconds: int | None
    events_total: int
    jobs: list[JobState]
    links: list[Link]


class Diagnostics(BaseModel):
    org_id: int
    org_slug: str
    org_name: str
    generated_at: datetime
    identity: Identity
    rostering: Rostering
    recording: Recording
    reporting: Reporting


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _errors(rows: Sequence[Any], *, name: str, limit: int) -> list[ErrorCount]:
    """Merge raw messages that scrub to the same snippet (two emails → one '[email]' line)."""
    counts: Counter[str] = Counter()
    last: dict[str, datetime] = {}
    for row in rows:
        if row[0] != name:
            continue
        message = scrub(row[1]) or "(no message)"
        counts[message] += int(row[2])
        last[message] = max(last.get(message, row[3]), row[3])
    ordered = sorted(counts, key=lambda m: (-counts[m], -last[m].timestamp(), m))
    return [ErrorCount(message=m, count=counts[m], last_at=last[m]) for m in ordered[:limit]]


def diagnose(
    *,
    conn: Connection,
    org_id: int,
    slug: str,
    name: str,
    now: datetime,
    upload_bad_rate: float,
    upload_min_started: int,
    amber_seconds: int,
) -> Diagnostics:
    """Return the org's diagnostics: a handful of indexed queries, no per-person data."""
    require_org(conn, org_id)
    since = now - WINDOW
    counted = (LOGIN, LOGIN_FAILED, SYNC_COMPLETED, SYNC_FAILED, UPLOAD_STARTED, UPLOAD_FAILED)
    counts: dict[str, int] = {n: 0 for n in counted}
    for event, n in conn.execute(
        queries.event_counts(),
        {"org": org_id, "names": list(counted), "since": since, "until": now},
    ):
        counts[event] = int(n)
    latest = {
        r[0]: (r[1], r[2] or {})
        for r in conn.execute(
            queries.latest_events(),
            {"org": org_id, "names": [SSO_CONFIGURED, SYNC_COMPLETED, SYNC_FAILED], "until": now},
        )
    }
    errors = conn.execute(
        queries.error_messages(),
        {"org": org_id, "names": [SYNC_FAILED], "since": now - TOP_ERRORS_WINDOW,
         "until": now, "limit": 200},
    ).all()
    recent = conn.execute(
        queries.error_messages(),
        {"org": org_id, "names": [LOGIN_FAILED, UPLOAD_FAILED], "since": since, "until": now,
         "limit": 200},
    ).all()
    state = conn.execute(queries.rollup_state(), {"org": org_id}).first()
    jobs = [
        JobState(job=r[0], status=r[1], started_at=r[2], finished_at=r[3], detail=scrub(r[4]))
        for r in conn.execute(queries.latest_job_runs())
    ]

    sso_at, sso_props = latest.get(SSO_CONFIGURED, (None, {}))
    login_failure_rate = _rate(counts[LOGIN_FAILED], counts[LOGIN] + counts[LOGIN_FAILED])
    identity = Identity(
        status=(
            "no_data" if sso_at is None and counts[LOGIN] + counts[LOGIN_FAILED] == 0
            else "problem" if login_failure_rate is not None and login_failure_rate >= 0.2
            else "warning" if counts[LOGIN_FAILED] else "ok"
        ),
        sso_configured=sso_at is not None,
        sso_configured_at=sso_at,
        sso_provider=scrub(str(sso_props["provider"])) if "provider" in sso_props else None,
        logins_7d=counts[LOGIN],
        login_failures_7d=counts[LOGIN_FAILED],
        login_failure_rate_7d=login_failure_rate,
        recent_login_errors=_errors(recent, name=LOGIN_FAILED, limit=TOP_ERRORS),
        links=[Link(label="SSO misconfiguration runbook", href=RUNBOOKS["identity"]),
               Link(label="SCIM conflicts runbook", href=RUNBOOKS["scim"])],
    )

    ok_at, _ = latest.get(SYNC_COMPLETED, (None, {}))
    failed_at, failed_props = latest.get(SYNC_FAILED, (None, {}))
    if ok_at is None and failed_at is None:
        last_status: Literal["succeeded", "failed", "never"] = "never"
        last_at = None
    elif failed_at is not None and (ok_at is None or failed_at > ok_at):
        last_status, last_at = "failed", failed_at
    else:
        last_status, last_at = "succeeded", ok_at
    rostering = Rostering(
        status={"never": "no_data", "failed": "problem"}.get(last_status, "ok"),
        last_sync_status=last_status,
        last_sync_at=last_at,
        last_sync_error=(
            scrub(str(failed_props.get("error", ""))) or "(no message)"
            if last_status == "failed" else None
        ),
        last_success_at=ok_at,
        syncs_succeeded_7d=counts[SYNC_COMPLETED],
        syncs_failed_7d=counts[SYNC_FAILED],
        top_errors_30d=_errors(errors, name=SYNC_FAILED, limit=TOP_ERRORS),
        links=[Link(label="Rostering sync failures runbook", href=RUNBOOKS["rostering"])],
    )

    started, failed = counts[UPLOAD_STARTED], counts[UPLOAD_FAILED]
    upload_rate = _rate(failed, started)
    recording = Recording(
        status=upload_status(failed=failed, started=started, bad_rate=upload_bad_rate,
                             min_started=upload_min_started),
        uploads_started_7d=started,
        uploads_failed_7d=failed,
        upload_failure_rate_7d=upload_rate,
        common_errors_7d=_errors(recent, name=UPLOAD_FAILED, limit=TOP_ERRORS),
        links=[Link(label="Upload failures runbook", href=RUNBOOKS["recording"])],
    )

    newest = state[0] if state else None
    age = max(0, int((now - newest).total_seconds())) if newest else None
    reporting = Reporting(
        status=(
            "problem" if any(j.status == "failed" for j in jobs)
            else "no_data" if newest is None
            else "warning" if age is not None and age > amber_seconds else "ok"
        ),
        newest_event_at=newest,
        last_rollup_at=state[1] if state else None,
        data_age_seconds=age,
        events_total=int(state[2]) if state else 0,
        jobs=jobs,
        links=[Link(label="Reporting discrepancies runbook", href=RUNBOOKS["reporting"]),
               Link(label="Org analytics support runbook", href=RUNBOOKS["support"]),
               Link(label="Service health (JSON)", href="/api/health")],
    )
    return Diagnostics(
        org_id=org_id, org_slug=slug, org_name=name, generated_at=now, identity=identity,
        rostering=rostering, recording=recording, reporting=reporting,
    )


def upload_status(*, failed: int, started: int, bad_rate: float, min_started: int) -> Status:
    """'problem' at or past the catalog's bad rate once enough uploads started to judge."""
    if started == 0:
        return "no_data"
    if started >= min_started and failed / started >= bad_rate:
        return "problem"
    return "warning" if failed else "ok"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _when(value: datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def summary_text(d: Diagnostics) -> str:
    """Return the plain-text summary a support agent pastes into a ticket."""
    i, r, u, p = d.identity, d.rostering, d.recording, d.reporting
    lines = [
        f"OrgPulse diagnostics — {d.org_slug} (org {d.org_id}) at {_when(d.generated_at)}",
        "",
        f"[identity: {i.status}] SSO "
        + (f"configured {_when(i.sso_configured_at)}" if i.sso_configured else "not configured")
        + (f" ({i.sso_provider})" if i.sso_provider else ""),
        f"  sign-ins 7d: {i.logins_7d} ok, {i.login_failures_7d} failed"
        f" (failure rate {_pct(i.login_failure_rate_7d)})",
        *[f"  - {e.count}× {e.message}" for e in i.recent_login_errors],
        f"[rostering: {r.status}] last sync {r.last_sync_status} {_when(r.last_sync_at)}"
        + (f": {r.last_sync_error}" if r.last_sync_error else ""),
        f"  syncs 7d: {r.syncs_succeeded_7d} ok, {r.syncs_failed_7d} failed;"
        f" last success {_when(r.last_success_at)}",
        *[f"  - {e.count}× {e.message}" for e in r.top_errors_30d],
        f"[recording: {u.status}] uploads 7d: {u.uploads_started_7d} started,"
        f" {u.uploads_failed_7d} failed (failure rate {_pct(u.upload_failure_rate_7d)})",
        *[f"  - {e.count}× {e.message}" for e in u.common_errors_7d],
        f"[reporting: {p.status}] newest event {_when(p.newest_event_at)},"
        f" last rollup {_when(p.last_rollup_at)}, {p.events_total} events",
        *[f"  - job {j.job}: {j.status} {_when(j.started_at)}"
          + (f" ({j.detail})" if j.detail else "") for j in p.jobs],
        "",
        "Runbooks: " + ", ".join(RUNBOOKS.values()),
    ]
    return "\n".join(lines) + "\n"

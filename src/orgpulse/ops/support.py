"""Support requests: filing with attached context, the support queue, status changes, purge."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from orgpulse.core.tenancy import require_org
from orgpulse.ops import support_queries as queries
from orgpulse.ops.diagnostics import ERROR_EVENTS
from orgpulse.ops.scrub import scrub

CATEGORIES = ("sign_in", "rostering", "recording", "reporting", "billing", "other")
SEVERITIES = ("low", "normal", "high", "urgent")
Status = Literal["open", "in_progress", "resolved", "closed"]
# Allowed status changes; a closed request stays closed (file a new one).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "resolved", "closed"}),
    "in_progress": frozenset({"open", "resolved", "closed"}),
    "resolved": frozenset({"in_progress", "closed"}),
    "closed": frozenset(),
}
MAX_DESCRIPTION = 5000
RELEVANT_ERRORS = 50
_TRACKING = re.compile(r"^SR-\d{4}-\d{6,}$")


class Screenshot(BaseModel):
    content_type: Literal["image/png", "image/jpeg"]
    data: bytes


def screenshot_of(data: bytes, *, max_bytes: int) -> Screenshot | None:
    """Accept a PNG or JPEG by its magic bytes, within the size limit; empty means none.

    Why magic bytes: the browser-sent content type and the file name are the attacker's to
    choose; the first bytes decide what the file is, and only two image types are ever stored.
    """
    if not data:
        return None
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"screenshot is {len(data)} bytes; the limit is {max_bytes} bytes",
            details=[{"field": "screenshot", "problem": "too_large"}],
        )
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Screenshot(content_type="image/png", data=data)
    if data.startswith(b"\xff\xd8\xff"):
        return Screenshot(content_type="image/jpeg", data=data)
    raise InvalidInput(
        "screenshot must be a PNG or JPEG image",
        details=[{"field": "screenshot", "problem": "unsupported_type"}],
    )


def client_of(user_agent: str) -> dict[str, str]:
    """Return browser and device family from a User-Agent (coarse on purpose: no fingerprint)."""
    ua = user_agent or ""
    browser = next(
        (name for token, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                  ("Chrome/", "Chrome"), ("Safari/", "Safari")) if token in ua),
        "other",
    )
    os_name = next(
        (name for token, name in (("Windows", "Windows"), ("Android", "Android"),
                                  ("iPhone", "iOS"), ("iPad", "iOS"), ("CrOS", "ChromeOS"),
                                  ("Mac OS X", "macOS"), ("Linux", "Linux")) if token in ua),
        "other",
    )
    device = "mobile" if ("Mobile" in ua or os_name in ("iOS", "Android")) else "desktop"
    return {"browser": browser, "os": os_name, "device": device, "user_agent": ua[:300]}


class RequestInput(BaseModel):
    category: str
    severity: str
    description: str


def validate_request(*, category: str, severity: str, description: str) -> RequestInput:
    """Check the form fields; every problem is named at once."""
    problems: list[dict[str, Any]] = []
    if category not in CATEGORIES:
        problems.append({"field": "category", "problem": f"one of {', '.join(CATEGORIES)}"})
    if severity not in SEVERITIES:
        problems.append({"field": "severity", "problem": f"one of {', '.join(SEVERITIES)}"})
    description = description.strip()
    if not description:
        problems.append({"field": "description", "problem": "required"})
    elif len(description) > MAX_DESCRIPTION:
        problems.append(
            {"field": "description", "problem": f"at most {MAX_DESCRIPTION} characters"}
        )
    if problems:
        raise InvalidInput("the support request is incomplete", details=problems)
    return RequestInput(category=category, severity=severity, description=description)


def build_context(
    *,
    conn: Connection,
    org_id: int,
    user_id: int,
    role: str,
    user_agent: str,
    request_id: str | None,
    privacy: dict[str, Any],
    flags: dict[str, Any],
    now: datetime,
    known: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return the context attached to a request: who, where from, the org's last 50 errors."""
    require_org(conn, org_id)
    errors = [
        {"event": r[0], "at": r[1].isoformat(), "unit_id": r[2],
         "message": scrub(r[3], known=known)}
        for r in conn.execute(
            queries.recent_errors(),
            {"org": org_id, "names": list(ERROR_EVENTS), "until": now, "limit": RELEVANT_ERRORS},
        )
    ]
    return {
        "tenant_id": org_id,
        "user_id": user_id,
        "role": role,
        "client": client_of(user_agent),
        "request_id": request_id,
        "recent_errors": errors,
        "privacy": privacy,
        "flags": flags,
        "captured_at": now.isoformat(),
    }


class Created(BaseModel):
    request_id: int
    tracking_id: str


def create_request(
    *,
    conn: Connection,
    org_id: int,
    user_id: int,
    data: RequestInput,
    context: dict[str, Any],
    screenshot: Screenshot | None,
    now: datetime,
) -> Created:
    """Store the request and its 'created' history entry (the caller audits, last)."""
    require_org(conn, org_id)
    request_id = int(conn.execute(text("SELECT nextval('support_request_seq')")).scalar_one())
    tracking_id = f"SR-{now.year}-{request_id:06d}"
    conn.execute(
        text(
            "INSERT INTO support_requests (org_id, request_id, tracking_id, requester_user_id,"
            " category, severity, description, context_json, screenshot, screenshot_type,"
            " created_at, updated_at)"
            " VALUES (:o, :r, :t, :u, :c, :s, :d, CAST(:ctx AS jsonb), :img, :img_type, :now, :now)"
        ),
        {
            "o": org_id, "r": request_id, "t": tracking_id, "u": user_id, "c": data.category,
            "s": data.severity, "d": data.description,
            "ctx": _json(context), "img": screenshot.data if screenshot else None,
            "img_type": screenshot.content_type if screenshot else None, "now": now,
        },
    )
    _history(conn, org_id=org_id, request_id=request_id, actor=user_id, kind="created",
             before=None, after="open", now=now)
    return Created(request_id=request_id, tracking_id=tracking_id)


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _history(
    conn: Connection, *, org_id: int, request_id: int, actor: int, kind: str,
    before: str | None, after: str, now: datetime,
) -> None:
    conn.execute(
        text(
            "INSERT INTO support_request_events (org_id, request_id, at, actor_user_id, kind,"
            " from_status, to_status) VALUES (:o, :r, :t, :a, :k, :f, :s)"
        ),
        {"o": org_id, "r": request_id, "t": now, "a": actor, "k": kind, "f": before, "s": after},
    )


class HistoryEntry(BaseModel):
    at: datetime
    actor_user_id: int | None
    kind: str
    from_status: str | None
    to_status: str


class RequestSummary(BaseModel):
    org_id: int
    org_slug: str
    tracking_id: str
    requester_user_id: int
    requester: str | None
    category: str
    severity: str
    status: str
    created_at: datetime
    updated_at: datetime
    has_screenshot: bool


class RequestDetail(RequestSummary):
    description: str
    context_json: dict[str, Any] | None
    context_purged_at: datetime | None
    history: list[HistoryEntry]


_DETAIL_COLUMNS = "r.request_id, r.description, r.context_json, r.context_purged_at, "
_SUMMARY = (
    "SELECT {extra}r.org_id, o.slug, r.tracking_id, r.requester_user_id, u.display_name,"
    " r.category, r.severity, r.status, r.created_at, r.updated_at, r.screenshot_type IS NOT NULL"
    " FROM support_requests r JOIN orgs o ON o.org_id = r.org_id"
    " LEFT JOIN users u ON u.user_id = r.requester_user_id"
)


def _summary(row: Any) -> RequestSummary:
    return RequestSummary(
        org_id=row[0], org_slug=row[1], tracking_id=row[2], requester_user_id=row[3],
        requester=row[4], category=row[5], severity=row[6], status=row[7], created_at=row[8],
        updated_at=row[9], has_screenshot=row[10],
    )


def list_requests(
    *, conn: Connection, org_ids: list[int] | None, requester_user_id: int | None,
    status: str | None = None, limit: int = 200,
) -> list[RequestSummary]:
    """Requests in the connection's scope, newest first: one org or all, one requester or all."""
    where = ["(CAST(:orgs AS bigint[]) IS NULL OR r.org_id = ANY(CAST(:orgs AS bigint[])))"]
    if requester_user_id is not None:
        where.append("r.requester_user_id = :u")
    if status is not None:
        where.append("r.status = :s")
    rows = conn.execute(
        text(
            _SUMMARY.format(extra="")
            + f" WHERE {' AND '.join(where)}"  # fixed clauses; every value is bound
            + " ORDER BY r.created_at DESC, r.request_id DESC LIMIT :limit"
        ),
        {"orgs": org_ids, "u": requester_user_id, "s": status, "limit": limit},
    )
    return [_summary(r) for r in rows]


def get_request(*, conn: Connection, org_id: int, tracking_id: str) -> RequestDetail:
    """One request of one org with its context and history; NotFound otherwise."""
    require_org(conn, org_id)
    if not _TRACKING.match(tracking_id):
        raise NotFound(f"no support request {tracking_id!r}")
    row = conn.execute(
        text(
            _SUMMARY.format(extra=_DETAIL_COLUMNS)
            + " WHERE r.org_id = :o AND r.tracking_id = :t"
        ),
        {"o": org_id, "t": tracking_id},
    ).first()
    if row is None:
        raise NotFound(f"no support request {tracking_id!r}")
    history = [
        HistoryEntry(at=h[0], actor_user_id=h[1], kind=h[2], from_status=h[3], to_status=h[4])
        for h in conn.execute(
            text(
                "SELECT at, actor_user_id, kind, from_status, to_status"
                " FROM support_request_events WHERE org_id = :o AND request_id = :r"
                " ORDER BY event_id"
            ),
            {"o": org_id, "r": row[0]},
        )
    ]
    base = _summary(row[4:])
    return RequestDetail(
        **base.model_dump(), description=row[1], context_json=row[2],
        context_purged_at=row[3], history=history,
    )


def screenshot(*, conn: Connection, org_id: int, tracking_id: str) -> Screenshot:
    """The request's screenshot; NotFound when it has none (or it was purged)."""
    require_org(conn, org_id)
    row = conn.execute(
        text(
            "SELECT screenshot_type, screenshot FROM support_requests"
            " WHERE org_id = :o AND tracking_id = :t AND screenshot IS NOT NULL"
        ),
        {"o": org_id, "t": tracking_id},
    ).first()
    if row is None:
        raise NotFound(f"support request {tracking_id!r} has no screenshot")
    return Screenshot(content_type=row[0], data=bytes(row[1]))


def change_status(
    *, conn: Connection, org_id: int, tracking_id: str, to: str, actor_user_id: int,
    now: datetime,
) -> tuple[str, str]:
    """Move a request to ``to`` if the transition is allowed; returns (before, after)."""
    require_org(conn, org_id)
    row = conn.execute(
        text(
            "SELECT request_id, status FROM support_requests"
            " WHERE org_id = :o AND tracking_id = :t FOR UPDATE"
        ),
        {"o": org_id, "t": tracking_id},
    ).first()
    if row is None:
        raise NotFound(f"no support request {tracking_id!r}")
    request_id, before = int(row[0]), str(row[1])
    if to not in TRANSITIONS:
        raise InvalidInput(f"unknown status {to!r}", details=[{"field": "status"}])
    if to not in TRANSITIONS[before]:
        raise Conflict(f"a request that is {before} cannot become {to}")
    conn.execute(
        text("UPDATE support_requests SET status = :s, updated_at = :t"
             " WHERE org_id = :o AND request_id = :r"),
        {"s": to, "t": now, "o": org_id, "r": request_id},
    )
    _history(conn, org_id=org_id, request_id=request_id, actor=actor_user_id,
             kind="status_changed", before=before, after=to, now=now)
    return before, to


def purge_expired_support_context(*, conn: Connection, now: datetime, retention_days: int) -> int:
    """Erase context and screenshots of requests older than the retention; return how many.

    The connection's tenant scope decides which orgs are purged (``orgpulse retention run``
    uses a scope over every org). The request, its description, status and history stay.
    """
    result = conn.execute(
        text(
            "UPDATE support_requests SET context_json = NULL, screenshot = NULL,"
            " screenshot_type = NULL, context_purged_at = :now"
            " WHERE created_at < :cutoff AND context_purged_at IS NULL"
        ),
        {"now": now, "cutoff": now - timedelta(days=retention_days)},
    )
    return int(result.rowcount)

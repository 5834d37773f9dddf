"""Jinja2 environment shared by pages and PDF renderers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from orgpulse import __version__

TEMPLATE_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.globals["version"] = __version__

# Display names of the events OrgPulse stores for non-track calls (see docs/ingestion.md).
RESERVED_EVENT_LABELS = {
    "$page": "Page views",
    "$screen": "Screen views",
    "$identify": "Profile updates (identify)",
    "$group": "Organization updates (group)",
}


def event_label(name: str) -> str:
    """Return the human label of an event name."""
    return RESERVED_EVENT_LABELS.get(name, name)


def humanize_age(seconds: int | None) -> str:
    """Return an age such as '42 s', '12 min', '5 h' or '27 days'."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


templates.env.filters["event_label"] = event_label
templates.env.filters["age"] = humanize_age


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render a page with the request's principal, CSRF token and org switcher in context.

    Org pages also get the implementation banners of the active org (one query, ops/banners.py).
    """
    banners: list[Any] = []
    if status_code < 400 and getattr(request.state, "active_org", None) is not None:
        from orgpulse.ops.support_routes import page_banners  # the ops slice imports this module

        banners = page_banners(request)
    principal = getattr(request.state, "principal", None)
    base = {
        "alert_unread": _alert_unread(request, principal),
        "banners": banners,
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "switcher": getattr(request.state, "switcher", []),
        "active_org": getattr(request.state, "active_org", None),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _alert_unread(request: Request, principal: Any) -> int:
    """The header's unread-alerts badge: one indexed count, for signed-in users only."""
    if principal is None:
        return 0
    from orgpulse.alerts import unread_count  # the alerts slice renders pages too
    from orgpulse.core.tenancy import unscoped

    with unscoped(request.app.state.engine) as conn:
        return unread_count(
            conn,
            user_id=principal.user_id,
            org_ids=sorted(principal.org_ids),
            platform=principal.staff_role == "platform_admin",
        )

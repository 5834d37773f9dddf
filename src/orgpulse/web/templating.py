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


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render a page with the request's principal, CSRF token and org switcher in context."""
    base = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "switcher": getattr(request.state, "switcher", []),
        "active_org": getattr(request.state, "active_org", None),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)

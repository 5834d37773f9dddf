"""Runbook pages for signed-in users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from orgpulse.auth import Principal
from orgpulse.guides.service import list_runbooks, resolve, runbook
from orgpulse.web.deps import load_switcher, require_principal
from orgpulse.web.templating import render

router = APIRouter(tags=["guides"])
SignedIn = Annotated[Principal, Depends(require_principal)]


@router.get("/docs/runbooks", include_in_schema=False)
def runbooks_index(request: Request, principal: SignedIn) -> Response:
    """List every runbook."""
    load_switcher(request, principal)
    return render(request, "runbooks.html", {"runbooks": list_runbooks()})


@router.get("/docs/runbooks/{name}", include_in_schema=False)
def runbook_page(request: Request, principal: SignedIn, name: str) -> Response:
    """One runbook; an alias redirects to its canonical name."""
    target = resolve(name)
    if target is not None and target != name:
        return RedirectResponse(f"/docs/runbooks/{target}", status_code=301)
    page = runbook(name=name)
    load_switcher(request, principal)
    return render(request, "runbook.html", {"runbook": page})

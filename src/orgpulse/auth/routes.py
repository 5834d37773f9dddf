"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import AuditContext, record
from orgpulse.auth.service import authenticate, create_session, revoke_session
from orgpulse.core.tenancy import unscoped
from orgpulse.web.deps import (
    SESSION_COOKIE,
    audit_context,
    client_ip,
    engine,
    optional_principal,
    settings,
    verify_csrf,
)
from orgpulse.web.templating import render

router = APIRouter(tags=["auth"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers read "/\\host" as "//host" and drop tabs/newlines: refuse both outright.
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    verify_csrf(request, csrf_token)
    ip = client_ip(request)
    user_id = await run_in_threadpool(
        authenticate,
        engine(request),
        settings=settings(request),
        email=email,
        password=password,
        ip=ip,
    )
    ctx = AuditContext(None, "anonymous", getattr(request.state, "request_id", None), ip)
    if user_id is None:
        await run_in_threadpool(
            record,
            engine(request),
            ctx=ctx,
            action="auth.login",
            target=email[:254],
            outcome="failed",
        )
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "That email and password do not match."},
            status_code=401,
        )

    def start() -> str:
        with unscoped(engine(request)) as conn:
            token = create_session(
                conn,
                settings=settings(request),
                user_id=user_id,
                user_agent=request.headers.get("user-agent"),
                ip=ip,
            )
            record(
                conn,
                ctx=AuditContext(user_id, "session", ctx.request_id, ip),
                action="auth.login",
                target=email[:254],
            )
        return token

    token = await run_in_threadpool(start)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings(request).session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings(request).secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    verify_csrf(request, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        optional_principal(request)
        with unscoped(engine(request)) as conn:
            revoke_session(conn, token=token)
            record(conn, ctx=audit_context(request), action="auth.logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

"""Map domain errors to one JSON shape (API) or a friendly page (HTML); never leak tracebacks."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from orgpulse.core.errors import (
    NotAuthenticated,
    OrgPulseError,
    ServiceUnavailable,
    TooManyRequests,
)
from orgpulse.web.templating import render

log = logging.getLogger(__name__)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/v1/")):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
) -> Response:
    headers: dict[str, str] = {}
    if wants_html(request):
        if status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
        response: Response = render(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )
    else:
        response = JSONResponse(error_body(code, message, details), status_code=status)
    for key, value in headers.items():
        response.headers[key] = value
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OrgPulseError)
    async def _domain(request: Request, exc: OrgPulseError) -> Response:
        response = _respond(request, exc.status_code, exc.code, exc.message, exc.details)
        if isinstance(exc, TooManyRequests | ServiceUnavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NotAuthenticated) and request.url.path.startswith("/v1/"):
            response.headers["WWW-Authenticate"] = 'Basic realm="orgpulse"'
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        return _respond(request, 422, "invalid_input", "the request is invalid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "error")
        return _respond(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        response = _respond(
            request, 503, "unavailable", "the database is unavailable; retry in a few seconds"
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal_error", "something went wrong on our side")

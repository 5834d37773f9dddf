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
    InvalidInput,
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


# The one JSON error shape of every API and ingestion endpoint, written out (not a model) so it
# stays JSON on routes whose success is a CSV or a PDF (FastAPI files a model under the route's
# media type).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` declaring the error statuses a router's endpoints may answer."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "Missing or invalid credentials",
    403: "Not permitted",
    404: "No such resource",
    409: "Conflicts with the current state, or the whole result is withheld",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests; retry after the Retry-After seconds",
    503: "The database is unavailable; retry after the Retry-After seconds",
}
# What any signed-in endpoint may answer besides its success: the shared handlers below map a
# body that does not parse (400), auth (401/403), missing rows (404), state and cohort conflicts
# (409), invalid input (422) and a database outage (503) the same way everywhere.
API_ERROR_RESPONSES = error_responses(400, 401, 403, 404, 409, 422, 503)


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


def refuse_nul_in_url(request: Request) -> None:
    """Refuse a NUL character in the path or query string (app-wide dependency).

    Why: PostgreSQL text cannot hold NUL, so such a value would fail deep inside a query (or
    the audit record of the read) as a 500; it is the client's bad input, so say so up front.
    """
    params = [*request.path_params.values(), *request.query_params.keys(),
              *request.query_params.values()]
    if any("\x00" in str(value) for value in params):
        raise InvalidInput("the URL contains a NUL character (%00), which is not allowed")


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

"""Application factory."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from orgpulse import __version__
from orgpulse.alerts.routes import router as alerts_router
from orgpulse.audit.routes import router as audit_router
from orgpulse.auth.routes import router as auth_router
from orgpulse.catalog import catalog_of
from orgpulse.cohorts.routes import router as cohorts_router
from orgpulse.core.config import Settings, get_settings, secret_key
from orgpulse.core.db import app_engine
from orgpulse.core.logging import configure_logging, org_var, request_id_var, user_var
from orgpulse.dashboards.aggregate_routes import router as aggregate_router
from orgpulse.dashboards.routes import router as dashboards_router
from orgpulse.exports.routes import router as exports_router
from orgpulse.followups.routes import router as followups_router
from orgpulse.guides.routes import router as guides_router
from orgpulse.health.routes import router as health_router
from orgpulse.hr.routes import router as hr_router
from orgpulse.ingestion.routes import router as ingestion_router
from orgpulse.metrics.routes import router as metrics_router
from orgpulse.notify.routes import router as notify_router
from orgpulse.ops.onboarding_routes import router as onboarding_router
from orgpulse.ops.routes import router as ops_router
from orgpulse.ops.support_routes import router as support_router
from orgpulse.privacy.admin_routes import router as privacy_admin_router
from orgpulse.reports.routes import router as reports_router
from orgpulse.web.deps import CSRF_COOKIE, csrf_token_valid, new_csrf_token
from orgpulse.web.errors import API_ERROR_RESPONSES, install_error_handlers, refuse_nul_in_url

access_log = logging.getLogger("orgpulse.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app: routers, error handlers, request-id/CSRF middleware, static files."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.environment == "production")
    app = FastAPI(
        title="OrgPulse",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul_in_url)],
    )
    app.state.settings = settings
    app.state.secret_key = secret_key(settings)
    catalog_of(settings)  # an invalid catalog stops startup, naming file, entry and problem
    app.state.engine = app_engine(settings)
    app.state.read_engine = app_engine(settings, read=True)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.state.request_id = request_id
        request_id_var.set(request_id)
        user_var.set(None)
        org_var.set(None)
        csrf = request.cookies.get(CSRF_COOKIE)
        if csrf and not csrf_token_valid(app.state.secret_key, csrf):
            csrf = None  # minted elsewhere (or by an old key): replace it
        request.state.csrf_token = csrf or new_csrf_token(app.state.secret_key)
        started = time.perf_counter()
        response = await call_next(request)
        access_log.info(
            "%s %s %d %.1fms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        response.headers["X-Request-Id"] = request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'",
            )
        if not csrf:
            response.set_cookie(
                CSRF_COOKIE,
                request.state.csrf_token,
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
                path="/",
            )
        return response

    install_error_handlers(app)
    app.mount(
        "/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger"
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> Response:
        """Interactive API docs, served from the swagger-ui-bundle package (no CDN)."""
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="OrgPulse API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
        # Swagger UI boots from one inline script; allow it on this page only.
        page.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
        )
        return page

    for router in (
        ops_router,
        auth_router,
        dashboards_router,
        metrics_router,
        health_router,
        hr_router,
        audit_router,
        privacy_admin_router,
        cohorts_router,
        aggregate_router,
        guides_router,
        onboarding_router,
        support_router,
        notify_router,
        alerts_router,
        exports_router,
        reports_router,
        followups_router,
    ):
        app.include_router(router, responses=API_ERROR_RESPONSES)
    app.include_router(ingestion_router)
    return app

"""Domain exceptions; ``web/errors.py`` maps each to one HTTP status and one JSON shape."""

from __future__ import annotations

from typing import Any


class OrgPulseError(Exception):
    """Base of every error a client may see. ``code`` is stable; ``message`` is for humans."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(OrgPulseError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(OrgPulseError):
    status_code = 413
    code = "payload_too_large"


class NotAuthenticated(OrgPulseError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(OrgPulseError):
    status_code = 403
    code = "forbidden"


class AggregateOnly(PermissionDenied):
    """A detailed view was asked for by a viewer who may see suppressed aggregates only."""

    code = "aggregate_only"


class BaaRequired(PermissionDenied):
    """An export was asked for before the user accepted the current BAA for the org."""

    code = "baa_required"


class InsufficientCohort(OrgPulseError):
    """An export was asked for whose whole result is withheld (cohort below k)."""

    status_code = 409
    code = "insufficient_cohort"


class NotFound(OrgPulseError):
    status_code = 404
    code = "not_found"


class Conflict(OrgPulseError):
    status_code = 409
    code = "conflict"


class TooManyRequests(OrgPulseError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(OrgPulseError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MissingTenantContext(RuntimeError):
    """Tenant data was touched outside a tenant scope: a programming error, never a 4xx."""

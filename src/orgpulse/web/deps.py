"""Request dependencies: engine, principal, org access with permission check and audit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from sqlalchemy import Connection, Engine, text

from orgpulse.audit import AuditContext, record
from orgpulse.auth import (
    Permission,
    Principal,
    Role,
    grants,
    load_principal,
    resolve_org_ref,
    session_user,
    token_grant,
)
from orgpulse.core.config import Settings
from orgpulse.core.errors import AggregateOnly, NotAuthenticated, PermissionDenied
from orgpulse.core.logging import org_var, user_var
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.privacy import ViewerPrivacy

SESSION_COOKIE = "orgpulse_session"
CSRF_COOKIE = "orgpulse_csrf"
CSRF_FIELD = "csrf_token"
# A page number of a paginated list; the bound keeps LIMIT/OFFSET arithmetic inside a bigint.
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def engine(request: Request) -> Engine:
    e: Engine = request.app.state.engine
    return e


def read_engine(request: Request) -> Engine:
    e: Engine = request.app.state.read_engine
    return e


def settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def audit_context(request: Request) -> AuditContext:
    principal: Principal | None = getattr(request.state, "principal", None)
    return AuditContext(
        actor_user_id=principal.user_id if principal else None,
        actor_kind=principal.via if principal else "anonymous",
        request_id=getattr(request.state, "request_id", None),
        ip=client_ip(request),
    )


def optional_principal(request: Request) -> Principal | None:
    """Return the user behind a bearer token or session cookie, if any (cached per request)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    principal = None
    auth = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    user_id: int | None
    limit_to_org: int | None = None
    with unscoped(engine(request)) as conn:
        if auth.lower().startswith("bearer "):
            grant = token_grant(conn, token=auth[7:].strip())
            via = "token"
            if grant is None:
                raise NotAuthenticated("invalid or revoked API token")
            user_id, limit_to_org = grant.user_id, grant.org_id
        elif cookie:
            user_id = session_user(conn, token=cookie)
            via = "session"
        else:
            user_id = None
            via = "anonymous"
        if user_id is not None:
            principal = load_principal(
                conn, user_id=user_id, via=via, limit_to_org=limit_to_org
            )
    request.state.principal = principal
    if principal is not None:
        user_var.set(principal.user_id)
    return principal


def require_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise NotAuthenticated("sign in or send an API token")
    return principal


def new_csrf_token(key: str) -> str:
    """Return ``random.signature``: a token only this deployment can mint."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_csrf_signature(key, nonce)}"


def _csrf_signature(key: str, nonce: str) -> str:
    return hmac.new(key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token_valid(key: str, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    return bool(nonce) and secrets.compare_digest(signature, _csrf_signature(key, nonce))


def verify_csrf(request: Request, token: str | None) -> None:
    """Refuse a form post unless its token equals the CSRF cookie and carries our signature.

    Why signed: a plain double-submit cookie can be planted by a sibling subdomain; a planted
    cookie without a valid signature is useless to an attacker.
    """
    cookie = request.cookies.get(CSRF_COOKIE, "")
    key: str = request.app.state.secret_key
    if (
        not cookie
        or not token
        or not secrets.compare_digest(cookie, token)
        or not csrf_token_valid(key, cookie)
    ):
        raise PermissionDenied("the form expired or came from another site; reload and retry")


@dataclass(frozen=True)
class OrgAccess:
    """An org the principal may act on for one permission, with their role there."""

    org_id: int
    slug: str
    name: str
    role: Role
    principal: Principal
    privacy: ViewerPrivacy
    unit_ids: tuple[int, ...] = ()


def check_org_access(request: Request, *, ref: str, permission: Permission) -> OrgAccess:
    """Resolve ``ref`` (slug or external id) and check the permission; refusals are audited.

    Why: an unknown org and a foreign org get the same 403 for users without all-org reach, so
    the answer never tells an outsider whether an org exists. A viewer who may see the org only
    as suppressed aggregates (an employer viewer, anyone in an ``aggregate_only`` org) is refused
    every detailed view, with a pointer to the aggregate view: fail closed, whatever a route does.
    """
    principal = require_principal(request)
    with unscoped(engine(request)) as conn:
        org_id = resolve_org_ref(conn, ref)
    role = principal.role_in(org_id) if org_id is not None else None
    aggregate_reader = grants(role, Permission.VIEW_AGGREGATES)
    if org_id is None or not (grants(role, permission) or (
        permission == Permission.VIEW_ORG_ANALYTICS and aggregate_reader
    )):
        _refuse(request, org_id=org_id, ref=ref, permission=permission, reason="role")
        raise PermissionDenied(f"you do not have access to organization {ref!r}")
    with scoped(engine(request), principal.scope()) as conn:
        row = conn.execute(
            text("SELECT slug, name, privacy_mode, min_cohort_size FROM orgs WHERE org_id = :o"),
            {"o": org_id},
        ).one()
    privacy = ViewerPrivacy.of(role=role, mode=row[2], min_cohort_size=row[3])
    if permission == Permission.VIEW_ORG_ANALYTICS and privacy.aggregate_only:
        _refuse(request, org_id=org_id, ref=ref, permission=permission, reason="aggregate_only")
        raise AggregateOnly(
            f"organization {row[0]!r} is shown to you as privacy-safe aggregates only; "
            f"open /orgs/{row[0]}/aggregate (predefined periods and breakdowns)"
        )
    org_var.set(org_id)
    membership = principal.memberships.get(org_id)
    access = OrgAccess(
        org_id=org_id,
        slug=row[0],
        name=row[1],
        role=role,  # type: ignore[arg-type]
        principal=principal,
        privacy=privacy,
        unit_ids=membership.unit_ids if membership else (),
    )
    request.state.active_org = access
    return access


def _refuse(
    request: Request, *, org_id: int | None, ref: str, permission: Permission, reason: str
) -> None:
    record(
        engine(request),
        ctx=audit_context(request),
        action="org.access_denied",
        org_id=org_id,
        target=ref[:200],
        outcome="denied",
        details={"permission": permission.value, "path": request.url.path, "reason": reason},
    )


def org_access(permission: Permission) -> Callable[[Request, str], OrgAccess]:
    """Dependency factory: the ``{org}`` path parameter, checked for ``permission``."""

    def dependency(request: Request, org: str) -> OrgAccess:
        return check_org_access(request, ref=org, permission=permission)

    return dependency


def load_switcher(request: Request, principal: Principal) -> list[tuple[str, str]]:
    """Return (slug, name) of every org the principal may open, for the header switcher."""
    with scoped(read_engine(request), principal.scope()) as conn:
        rows = conn.execute(text("SELECT slug, name FROM orgs ORDER BY name")).all()
    switcher = [(r[0], r[1]) for r in rows]
    request.state.switcher = switcher
    return switcher


@dataclass
class AuditFacts:
    """What an analytics read found, filled in by the caller before the read block ends."""

    query_type: str | None = None
    cohort_size: int | None = None
    suppressed: bool | None = None


@contextmanager
def org_read(
    request: Request,
    access: OrgAccess,
    *,
    target: str,
    details: dict[str, Any],
    action: str = "analytics.read",
    facts: AuditFacts | None = None,
) -> Iterator[tuple[Connection, tuple[int, ...] | None]]:
    """Read one org's analytics: a transaction scoped to that org, then the audit record.

    Yields the connection and the units a unit admin is held to (None: the whole org). The audit
    record is written only when the read succeeded; ``facts`` (query type, cohort size, whether
    the result was suppressed), as the caller left them, go into it. Without facts the read is a
    detailed view: its query type is its target and nothing in it was suppressed (aggregate-only
    viewers never reach one).
    """
    allowed = access.unit_ids if access.role == Role.UNIT_ADMIN else None
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(read_engine(request), scope) as conn:
        yield conn, allowed
    facts = facts or AuditFacts(query_type=target, suppressed=False)
    record(
        engine(request),
        ctx=audit_context(request),
        action=action,
        org_id=access.org_id,
        target=target,
        details=details,
        query_type=facts.query_type,
        cohort_size=facts.cohort_size,
        suppressed=facts.suppressed,
        export_kind="csv" if action == "export.csv" else None,
    )

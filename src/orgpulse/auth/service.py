"""Users, sessions, API tokens, write keys, and what a user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine, text

from orgpulse.auth.roles import ALL_ORG_ROLES, MEMBERSHIP_ROLES, STAFF_ROLES, Role
from orgpulse.auth.secrets import digest, hash_password, new_secret, verify_password
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope, unscoped


@dataclass(frozen=True)
class Membership:
    org_id: int
    role: Role
    unit_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Principal:
    """An authenticated user and the orgs they may act on."""

    user_id: int
    email: str
    display_name: str
    staff_role: Role | None
    memberships: dict[int, Membership] = field(default_factory=dict)
    all_org_ids: frozenset[int] = frozenset()
    via: str = "session"  # session | token
    # Set for a token limited to one org: the principal then holds that org's membership only.
    limited_to_org: int | None = None

    @property
    def org_ids(self) -> frozenset[int]:
        return self.all_org_ids | frozenset(self.memberships)

    def role_in(self, org_id: int) -> Role | None:
        """Return the user's role in an org, or None when the org is outside their reach.

        An all-org staff role outranks a membership in the same org (a platform admin who is
        also a member somewhere keeps their staff view there).
        """
        if self.staff_role in ALL_ORG_ROLES and org_id in self.all_org_ids:
            return self.staff_role
        membership = self.memberships.get(org_id)
        return membership.role if membership is not None else None

    @property
    def reaches_every_org(self) -> bool:
        return self.staff_role in ALL_ORG_ROLES

    def scope(self) -> TenantScope:
        if self.reaches_every_org:
            return TenantScope.all_orgs(self.org_ids, user_id=self.user_id)
        return TenantScope(self.org_ids, self.user_id)

    def analytics_reach(self) -> dict[int, tuple[int, ...] | None]:
        """Orgs whose analytics this user may see → the units they are held to (None: all).

        The tenant scope also holds orgs where the user's role has no analytics permission
        (e.g. a member); views that list many orgs must use this instead.
        """
        from orgpulse.auth.roles import Permission, grants

        reach: dict[int, tuple[int, ...] | None] = {}
        for org_id in self.org_ids:
            role = self.role_in(org_id)
            if grants(role, Permission.VIEW_ORG_ANALYTICS):
                membership = self.memberships.get(org_id)
                reach[org_id] = (
                    membership.unit_ids if role == Role.UNIT_ADMIN and membership else None
                )
        return reach


# ---------------------------------------------------------------------------- users
def create_user(
    conn: Connection,
    *,
    email: str,
    password: str | None,
    display_name: str | None = None,
    role: Role,
    org_id: int | None = None,
    unit_ids: tuple[int, ...] = (),
) -> int:
    """Create a user with a staff role, or with a membership role in one org."""
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(f"not an email address: {email!r}")
    if role in MEMBERSHIP_ROLES and role not in STAFF_ROLES and org_id is None:
        raise InvalidInput(f"role {role} needs an org (--org)")
    if role in ALL_ORG_ROLES and org_id is not None:
        raise InvalidInput(f"role {role} sees every org; do not pass an org")
    try:
        password_hash = hash_password(password) if password is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    exists = conn.execute(
        text("SELECT 1 FROM users WHERE lower(email) = lower(:e)"), {"e": email}
    ).first()
    if exists:
        raise Conflict(f"a user with email {email} already exists")
    user_id = int(
        conn.execute(
            text(
                "INSERT INTO users (email, display_name, password_hash, staff_role)"
                " VALUES (:e, :d, :h, :s) RETURNING user_id"
            ),
            {
                "e": email,
                "d": display_name or email.split("@")[0],
                "h": password_hash,
                "s": role.value if role in STAFF_ROLES else None,
            },
        ).scalar_one()
    )
    if org_id is not None:
        grant_membership(conn, user_id=user_id, org_id=org_id, role=role, unit_ids=unit_ids)
    return user_id


def grant_membership(
    conn: Connection, *, user_id: int, org_id: int, role: Role, unit_ids: tuple[int, ...] = ()
) -> None:
    """Give a user a role in one org (replacing any role they had there)."""
    if role not in MEMBERSHIP_ROLES:
        raise InvalidInput(f"role {role} is not granted per org")
    apply_scope(conn, TenantScope.of([org_id]))
    conn.execute(
        text(
            "INSERT INTO memberships (org_id, user_id, role, unit_ids)"
            " VALUES (:o, :u, :r, CAST(:units AS bigint[]))"
            " ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role,"
            " unit_ids = excluded.unit_ids"
        ),
        {"o": org_id, "u": user_id, "r": role.value, "units": list(unit_ids)},
    )


def resolve_org_ref(conn: Connection, ref: str) -> int | None:
    """Resolve an org slug or external id to its id through the routing directory."""
    row = conn.execute(
        text(
            "SELECT org_id FROM directory_groups WHERE unit_id IS NULL"
            " AND (slug = :r OR external_id = :r) ORDER BY (slug = :r) DESC LIMIT 1"
        ),
        {"r": ref},
    ).first()
    return None if row is None else int(row[0])


def load_principal(
    conn: Connection, *, user_id: int, via: str, limit_to_org: int | None = None
) -> Principal | None:
    """Load an active user with their memberships and org reach.

    Why ``limit_to_org``: an org-limited API token (an HR system's) must open one org and
    nothing else, whatever the user could reach otherwise. The principal keeps only that org's
    membership and loses any staff role, so every permission check downstream fails closed
    outside that org without knowing about tokens.
    """
    row = conn.execute(
        text(
            "SELECT user_id, email, display_name, staff_role FROM users"
            " WHERE user_id = :u AND is_active"
        ),
        {"u": user_id},
    ).first()
    if row is None:
        return None
    apply_scope(conn, TenantScope(frozenset(), user_id))
    memberships = {
        r[0]: Membership(r[0], Role(r[1]), tuple(r[2] or ()))
        for r in conn.execute(
            text("SELECT org_id, role, unit_ids FROM memberships WHERE user_id = :u"),
            {"u": user_id},
        )
    }
    staff = Role(row[3]) if row[3] else None
    if limit_to_org is not None:
        memberships = {o: m for o, m in memberships.items() if o == limit_to_org}
        staff = None
    reach = frozenset(all_org_ids(conn)) if staff in ALL_ORG_ROLES else frozenset()
    return Principal(
        user_id=row[0],
        email=row[1],
        display_name=row[2],
        staff_role=staff,
        memberships=memberships,
        all_org_ids=reach,
        via=via,
        limited_to_org=limit_to_org,
    )


# ---------------------------------------------------------------------------- login
def authenticate(
    engine: Engine, *, settings: Settings, email: str, password: str, ip: str
) -> int | None:
    """Return the user id for valid credentials; record failures; refuse when rate-limited."""
    now = clock.now()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    with unscoped(engine) as conn:
        failures = conn.execute(
            text(
                "SELECT count(*), min(at) FROM login_failures"
                " WHERE lower(email) = lower(:e) AND ip = :ip AND at > :since"
            ),
            {"e": email, "ip": ip, "since": window_start},
        ).one()
        if failures[0] >= settings.login_max_failures:
            retry = int((failures[1] - window_start).total_seconds()) + 1
            raise TooManyRequests(
                "too many failed sign-in attempts; try again later", retry_after=max(retry, 1)
            )
        row = conn.execute(
            text(
                "SELECT user_id, password_hash FROM users"
                " WHERE lower(email) = lower(:e) AND is_active"
            ),
            {"e": email},
        ).first()
        if row is not None and verify_password(row[1], password):
            conn.execute(
                text("DELETE FROM login_failures WHERE lower(email) = lower(:e) AND ip = :ip"),
                {"e": email, "ip": ip},
            )
            return int(row[0])
        if row is None:
            verify_password(None, password)
        conn.execute(
            text("INSERT INTO login_failures (email, ip, at) VALUES (:e, :ip, :at)"),
            {"e": email[:254], "ip": ip, "at": now},
        )
        return None


def create_session(
    conn: Connection, *, settings: Settings, user_id: int, user_agent: str | None, ip: str | None
) -> str:
    """Start a server-side session; return the cookie value (only its hash is stored)."""
    token = new_secret("ops")
    conn.execute(
        text(
            "INSERT INTO web_sessions (token_hash, user_id, expires_at, user_agent, ip)"
            " VALUES (:h, :u, :exp, :ua, :ip)"
        ),
        {
            "h": digest(token),
            "u": user_id,
            "exp": clock.now() + timedelta(days=settings.session_days),
            "ua": (user_agent or "")[:300],
            "ip": ip,
        },
    )
    return token


# Looking a credential up is read-mostly: its last-use time is refreshed only when it lags by more
# than a minute, so a client's burst of requests does not commit a row update (and a WAL flush)
# each time. The data-modifying CTE runs whether or not its result is read.
SESSION_USER = text(
    "WITH hit AS (SELECT token_hash, user_id, last_seen_at FROM web_sessions"
    "  WHERE token_hash = :h AND revoked_at IS NULL AND expires_at > :now),"
    " touched AS (UPDATE web_sessions w SET last_seen_at = now() FROM hit"
    "  WHERE w.token_hash = hit.token_hash"
    "  AND (hit.last_seen_at IS NULL OR hit.last_seen_at < now() - interval '1 minute')"
    "  RETURNING 1)"
    " SELECT user_id FROM hit"
)
TOKEN_USER = text(
    "WITH hit AS (SELECT token_id, user_id, org_id, last_used_at FROM api_tokens"
    "  WHERE token_hash = :h AND revoked_at IS NULL),"
    " touched AS (UPDATE api_tokens a SET last_used_at = now() FROM hit"
    "  WHERE a.token_id = hit.token_id"
    "  AND (hit.last_used_at IS NULL OR hit.last_used_at < now() - interval '1 minute')"
    "  RETURNING 1)"
    " SELECT user_id, org_id FROM hit"
)


def session_user(conn: Connection, *, token: str) -> int | None:
    """Return the user of a live session cookie."""
    row = conn.execute(SESSION_USER, {"h": digest(token), "now": clock.now()}).first()
    return None if row is None else int(row[0])


def revoke_session(conn: Connection, *, token: str) -> None:
    conn.execute(
        text("UPDATE web_sessions SET revoked_at = now() WHERE token_hash = :h"),
        {"h": digest(token)},
    )


def revoke_user_sessions(conn: Connection, *, user_id: int) -> int:
    """Revoke every live session of a user (e.g. after a password change)."""
    result = conn.execute(
        text(
            "UPDATE web_sessions SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL"
        ),
        {"u": user_id},
    )
    return int(result.rowcount)


# ---------------------------------------------------------------------------- API tokens
@dataclass(frozen=True)
class TokenGrant:
    """Who a live API token acts as, and the one org it is limited to (None: the user's reach)."""

    user_id: int
    org_id: int | None


def create_api_token(
    conn: Connection, *, user_id: int, name: str, org_id: int | None = None
) -> str:
    """Create an API token acting with the user's permissions; return it once.

    With ``org_id`` the token acts only within that org, where the user must have a role.
    """
    if conn.execute(text("SELECT 1 FROM users WHERE user_id = :u"), {"u": user_id}).first() is None:
        raise NotFound(f"no user with id {user_id}")
    if org_id is not None:
        apply_scope(conn, TenantScope(frozenset(), user_id))
        member = conn.execute(
            text("SELECT 1 FROM memberships WHERE user_id = :u AND org_id = :o"),
            {"u": user_id, "o": org_id},
        ).first()
        if member is None:
            raise InvalidInput(
                f"user {user_id} has no role in organization {org_id}; "
                "a token limited to it would open nothing"
            )
    token = new_secret("opt")
    conn.execute(
        text(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, org_id)"
            " VALUES (:u, :n, :p, :h, :o)"
        ),
        {"u": user_id, "n": name, "p": token[:10], "h": digest(token), "o": org_id},
    )
    return token


def token_grant(conn: Connection, *, token: str) -> TokenGrant | None:
    """Return the user and org limit of a live (not revoked) API token."""
    row = conn.execute(TOKEN_USER, {"h": digest(token)}).first()
    return None if row is None else TokenGrant(int(row[0]), None if row[1] is None else int(row[1]))


def token_user(conn: Connection, *, token: str) -> int | None:
    grant = token_grant(conn, token=token)
    return None if grant is None else grant.user_id


def find_user_id(conn: Connection, *, email: str) -> int:
    row = conn.execute(
        text("SELECT user_id FROM users WHERE lower(email) = lower(:e)"), {"e": email}
    ).first()
    if row is None:
        raise NotFound(f"no user with email {email}")
    return int(row[0])


# ---------------------------------------------------------------------------- write keys
def create_write_key(conn: Connection, *, name: str) -> str:
    """Create a Segment write key (sent as the Basic-auth username); return it once."""
    key = new_secret("opk")
    conn.execute(
        text("INSERT INTO write_keys (name, prefix, key_hash) VALUES (:n, :p, :h)"),
        {"n": name, "p": key[:10], "h": digest(key)},
    )
    return key


def write_key_id(conn: Connection, *, key: str) -> int | None:
    row = conn.execute(
        text("SELECT key_id FROM write_keys WHERE key_hash = :h AND revoked_at IS NULL"),
        {"h": digest(key)},
    ).first()
    return None if row is None else int(row[0])

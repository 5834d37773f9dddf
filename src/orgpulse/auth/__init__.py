"""Users, sessions, API tokens, write keys, roles and permissions."""

from orgpulse.auth.roles import Permission, Role, grants
from orgpulse.auth.service import (
    Membership,
    Principal,
    authenticate,
    create_api_token,
    create_session,
    create_user,
    create_write_key,
    find_user_id,
    grant_membership,
    load_principal,
    resolve_org_ref,
    revoke_session,
    session_user,
    token_user,
    write_key_id,
)

__all__ = [
    "Membership",
    "Permission",
    "Principal",
    "Role",
    "authenticate",
    "create_api_token",
    "create_session",
    "create_user",
    "create_write_key",
    "find_user_id",
    "grant_membership",
    "grants",
    "load_principal",
    "resolve_org_ref",
    "revoke_session",
    "session_user",
    "token_user",
    "write_key_id",
]

"""Passwords (argon2id) and bearer secrets (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against a fixed hash when the user does not exist keeps response times uniform.
_DUMMY_HASH = _hasher.hash("orgpulse-dummy-password")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """Return a high-entropy bearer secret such as ``opt_…`` (API token) or ``opk_…``."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> bytes:
    """Hash a bearer secret for storage; high-entropy secrets need no slow hash."""
    return hashlib.sha256(secret.encode()).digest()

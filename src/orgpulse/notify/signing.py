"""Webhook body signatures: HMAC-SHA256 over ``"{timestamp}.{body}"`` (Stripe-like).

Receivers call ``verify_signature`` (or its few lines, copied from docs/webhooks.md); the
timestamp inside the signed string lets them refuse a replay of an old, validly signed body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_PREFIX = "sha256="
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    """Return a fresh endpoint secret (shown to the admin once, stored for signing)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``X-OrgPulse-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Return whether ``header`` signs ``body`` at ``timestamp`` and the timestamp is recent.

    Why constant-time: comparing with ``==`` leaks how many leading characters matched. Why the
    tolerance: without it, anyone who once saw a signed request could replay it forever.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), header.strip())

"""Send what the outbox holds: claim due rows, send each outside any transaction, record outcome.

Why one row per claim: a claim pushes the row's ``next_attempt_at`` forward by a lease (and
counts the attempt) in a short transaction that takes the row with ``FOR UPDATE SKIP LOCKED``,
so two workers never send one row twice and no transaction stays open during network I/O. A
single send is bounded by its timeout, far below the lease; claiming a whole batch at once
would need a lease longer than the batch's sum of timeouts.

Delivery is at least once: a worker that dies after the peer accepted a message but before the
outcome is written sends it again once the lease ends. Webhook receivers dedupe on the
``X-OrgPulse-Delivery`` header; emails may, rarely, arrive twice.
"""

from __future__ import annotations

import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, text

from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.notify.email import build_message, send_message
from orgpulse.notify.outbox import Attachment
from orgpulse.notify.signing import sign

LEASE = timedelta(minutes=5)
ERROR_LIMIT = 500
# A 4xx means the receiver refused this request as such; only these two say "try again later".
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt (``attempts`` already counts it)."""

    delivery_id: int
    channel: str
    attempts: int
    email_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    payload: Any
    endpoint_url: str | None
    endpoint_secret: str | None


@dataclass(frozen=True)
class Outcome:
    """What one attempt found: sent, or an error that may be worth retrying."""

    ok: bool
    error: str | None = None
    status_code: int | None = None
    permanent: bool = False


@dataclass
class DeliveryPass:
    """What one pass did, for the job's detail line and the CLI."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    waiting_for_smtp: int = 0

    def summary(self) -> str:
        text_ = f"sent {len(self.sent)}, retrying {len(self.retrying)}, dead {len(self.dead)}"
        if self.waiting_for_smtp:
            text_ += f"; {self.waiting_for_smtp} emails wait: SMTP not configured"
        return text_


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed try: backoff · 2^(attempts - 1)."""
    return timedelta(seconds=settings.delivery_backoff_seconds * 2 ** (attempts - 1))


def claim_due(
    conn: Connection, *, now: datetime, limit: int, smtp_configured: bool
) -> list[Claimed]:
    """Take up to ``limit`` due pending rows nobody else holds: count the attempt, lease them.

    Emails are not taken while SMTP is unset (waiting is not a failed attempt); webhooks of a
    disabled endpoint wait until it is enabled again.
    """
    rows = conn.execute(
        text(
            "WITH due AS ("
            "  SELECT d.delivery_id FROM deliveries d"
            "  LEFT JOIN webhook_endpoints w ON w.endpoint_id = d.endpoint_id"
            "  WHERE d.status = 'pending' AND d.next_attempt_at <= :now"
            "    AND ((d.channel = 'email' AND :smtp) OR (d.channel = 'webhook' AND w.enabled))"
            "  ORDER BY d.next_attempt_at, d.delivery_id"
            "  LIMIT :limit FOR UPDATE OF d SKIP LOCKED)"
            " UPDATE deliveries d SET attempts = d.attempts + 1, next_attempt_at = :lease"
            " FROM due WHERE d.delivery_id = due.delivery_id"
            " RETURNING d.delivery_id, d.channel, d.attempts, d.email_to, d.subject,"
            "  d.body_text, d.body_html, d.payload, d.endpoint_id"
        ),
        {"now": now, "limit": limit, "smtp": smtp_configured, "lease": now + LEASE},
    ).all()
    endpoint_ids = sorted({r.endpoint_id for r in rows if r.endpoint_id is not None})
    endpoints: dict[int, tuple[str, str]] = {}
    if endpoint_ids:
        endpoints = {
            e[0]: (e[1], e[2])
            for e in conn.execute(
                text(
                    "SELECT endpoint_id, url, secret FROM webhook_endpoints"
                    " WHERE endpoint_id = ANY(:ids)"
                ),
                {"ids": endpoint_ids},
            )
        }
    claimed = []
    for r in sorted(rows, key=lambda r: int(r.delivery_id)):
        url, secret = endpoints.get(r.endpoint_id, (None, None))
        claimed.append(
            Claimed(
                delivery_id=r.delivery_id,
                channel=r.channel,
                attempts=r.attempts,
                email_to=r.email_to,
                subject=r.subject,
                body_text=r.body_text,
                body_html=r.body_html,
                payload=r.payload,
                endpoint_url=url,
                endpoint_secret=secret,
            )
        )
    return claimed


def waiting_emails(conn: Connection, *, now: datetime) -> int:
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM deliveries WHERE status = 'pending' AND channel = 'email'"
                " AND next_attempt_at <= :now"
            ),
            {"now": now},
        ).scalar_one()
    )


def webhook_body(item: Claimed) -> bytes:
    """The exact bytes POSTed (and signed) for a webhook delivery."""
    return orjson.dumps(
        {"event": item.subject, "delivery_id": item.delivery_id, "data": item.payload}
    )


def send_webhook(item: Claimed, *, settings: Settings, now: datetime) -> Outcome:
    """POST the signed JSON body; 2xx is sent, other 4xx (not 408/429) and 3xx are permanent."""
    if item.endpoint_url is None or item.endpoint_secret is None:
        return Outcome(ok=False, error="the webhook endpoint no longer exists", permanent=True)
    body = webhook_body(item)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OrgPulse-Webhook/1",
        "X-OrgPulse-Event": item.subject,
        "X-OrgPulse-Delivery": str(item.delivery_id),
        "X-OrgPulse-Timestamp": str(timestamp),
        "X-OrgPulse-Signature": sign(item.endpoint_secret, timestamp, body),
    }
    try:
        response = httpx.post(
            item.endpoint_url,
            content=body,
            headers=headers,
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        return Outcome(ok=False, error=f"timeout: {exc}")
    except httpx.HTTPError as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(ok=True, status_code=code)
    permanent = code < 500 and code not in RETRYABLE_4XX
    snippet = response.text[:200].strip()
    return Outcome(
        ok=False,
        status_code=code,
        permanent=permanent,
        error=f"HTTP {code}" + (f": {snippet}" if snippet else ""),
    )


def _attachments(engine: Engine, delivery_id: int) -> list[Attachment]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text(
                "SELECT filename, content_type, content FROM delivery_attachments"
                " WHERE delivery_id = :d ORDER BY position"
            ),
            {"d": delivery_id},
        ).all()
    return [Attachment(r[0], r[1], bytes(r[2])) for r in rows]


def send_email(item: Claimed, *, settings: Settings, engine: Engine) -> Outcome:
    """Send over SMTP; a 5xx reply (the server refuses for good) is permanent, the rest retries."""
    if item.email_to is None:
        return Outcome(ok=False, error="no recipient", permanent=True)
    msg = build_message(
        settings,
        to=item.email_to,
        subject=item.subject,
        body_text=item.body_text,
        body_html=item.body_html,
        attachments=_attachments(engine, item.delivery_id),
    )
    try:
        send_message(settings, msg)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return Outcome(
            ok=False,
            status_code=codes[0] if codes else None,
            permanent=bool(codes) and all(c >= 500 for c in codes),
            error=f"recipient refused: {exc.recipients}",
        )
    except smtplib.SMTPResponseException as exc:
        message = exc.smtp_error.decode(errors="replace") if isinstance(
            exc.smtp_error, bytes
        ) else str(exc.smtp_error)
        return Outcome(
            ok=False,
            status_code=exc.smtp_code,
            permanent=exc.smtp_code >= 500,
            error=f"SMTP {exc.smtp_code}: {message}",
        )
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
    return Outcome(ok=True)


def record_outcome(
    conn: Connection, *, item: Claimed, outcome: Outcome, settings: Settings, now: datetime
) -> str:
    """Mark the row sent, scheduled for retry or dead; return which."""
    if outcome.ok:
        status, next_at = "sent", now
    elif outcome.permanent or item.attempts >= settings.delivery_max_attempts:
        status, next_at = "dead", now
    else:
        status, next_at = "pending", now + retry_delay(settings, item.attempts)
    conn.execute(
        text(
            "UPDATE deliveries SET status = :s, next_attempt_at = :n, last_error = :e,"
            " last_status_code = :c, sent_at = CASE WHEN :s = 'sent' THEN :now END"
            " WHERE delivery_id = :d"
        ),
        {
            "s": status,
            "n": next_at,
            "e": outcome.error[:ERROR_LIMIT] if outcome.error else None,
            "c": outcome.status_code,
            "now": now,
            "d": item.delivery_id,
        },
    )
    return status


def deliver_due(
    engine: Engine, *, settings: Settings, now: datetime, limit: int = 100
) -> DeliveryPass:
    """Send up to ``limit`` due deliveries, one claim each; return what happened.

    Outcomes (sent_at, the next retry) are stamped with ``now``, the pass's start, so a retry
    is due ``backoff · 2^(attempts-1)`` after the pass that failed it.
    """
    smtp_configured = bool(settings.smtp_host)
    result = DeliveryPass()
    started = time.monotonic()
    for _ in range(limit):
        # The pass's clock moves on with it: a lease taken late in a long pass must still end
        # after the send, and a signature timestamp must be the time of the request.
        at = now + timedelta(seconds=time.monotonic() - started)
        with unscoped(engine) as conn:
            claimed = claim_due(conn, now=at, limit=1, smtp_configured=smtp_configured)
        if not claimed:
            break
        item = claimed[0]
        if item.channel == "email":
            outcome = send_email(item, settings=settings, engine=engine)
        else:
            outcome = send_webhook(item, settings=settings, now=at)
        with unscoped(engine) as conn:
            status = record_outcome(
                conn, item=item, outcome=outcome, settings=settings, now=now
            )
        {"sent": result.sent, "pending": result.retrying, "dead": result.dead}[status].append(
            item.delivery_id
        )
    if not smtp_configured:
        with unscoped(engine) as conn:
            result.waiting_for_smtp = waiting_emails(conn, now=now)
    return result

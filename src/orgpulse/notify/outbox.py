"""Enqueue emails and webhook calls in the caller's transaction (the transactional outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


def enqueue_email(
    conn: Connection,
    *,
    to: str,
    subject: str,
    body_text: str,
    source: str,
    now: datetime,
    body_html: str | None = None,
    user_id: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> int:
    """Queue one email (sent by the deliveries job); return its delivery id.

    ``source`` names what caused it (``alert:42``, ``subscription:7``) for the Deliveries page.
    """
    delivery_id = int(
        conn.execute(
            text(
                "INSERT INTO deliveries (channel, email_to, user_id, source, subject, body_text,"
                " body_html, next_attempt_at, created_at)"
                " VALUES ('email', :to, :user, :source, :subject, :text, :html, :now, :now)"
                " RETURNING delivery_id"
            ),
            {
                "to": to,
                "user": user_id,
                "source": source,
                "subject": subject,
                "text": body_text,
                "html": body_html,
                "now": now,
            },
        ).scalar_one()
    )
    for position, item in enumerate(attachments):
        conn.execute(
            text(
                "INSERT INTO delivery_attachments (delivery_id, position, filename, content_type,"
                " content) VALUES (:d, :p, :f, :t, :c)"
            ),
            {
                "d": delivery_id,
                "p": position,
                "f": item.filename,
                "t": item.content_type,
                "c": item.content,
            },
        )
    return delivery_id


def enqueue_webhook(
    conn: Connection,
    *,
    endpoint_id: int,
    event: str,
    payload: dict[str, Any],
    source: str,
    now: datetime,
) -> int:
    """Queue one JSON POST to a webhook endpoint; return its delivery id.

    The body sent is ``{"event": event, "data": payload, "delivery_id": …}``.
    """
    return int(
        conn.execute(
            text(
                "INSERT INTO deliveries (channel, endpoint_id, source, subject, payload,"
                " next_attempt_at, created_at)"
                " VALUES ('webhook', :e, :source, :event, CAST(:payload AS jsonb), :now, :now)"
                " RETURNING delivery_id"
            ),
            {
                "e": endpoint_id,
                "source": source,
                "event": event,
                "payload": orjson.dumps(payload).decode(),
                "now": now,
            },
        ).scalar_one()
    )

"""The outbox stores what producers queue; an email built from it reaches a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from mailsink import MailSink
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.notify import Attachment, enqueue_email, enqueue_webhook
from orgpulse.notify.email import SmtpNotConfigured, build_message, send_message

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_enqueued_email_keeps_recipient_body_and_attachments(engine: Engine) -> None:
    with unscoped(engine) as conn:
        delivery = enqueue_email(
            conn,
            to="vp@example.com",
            subject="Portfolio summary",
            body_text="Attached.",
            source="subscription:1",
            now=NOW,
            attachments=[
                Attachment("a.pdf", "application/pdf", b"%PDF-1.7 x"),
                Attachment("a.csv", "text/csv", b"org_id\r\n1\r\n"),
            ],
        )
    with unscoped(engine) as conn:
        row = conn.execute(
            text("SELECT channel, email_to, status, attempts, next_attempt_at FROM deliveries"
                 " WHERE delivery_id = :d"),
            {"d": delivery},
        ).one()
        files = conn.execute(
            text("SELECT position, filename, content_type, content FROM delivery_attachments"
                 " WHERE delivery_id = :d ORDER BY position"),
            {"d": delivery},
        ).all()
    assert tuple(row) == ("email", "vp@example.com", "pending", 0, NOW)
    assert [tuple(f) for f in files] == [
        (0, "a.pdf", "application/pdf", b"%PDF-1.7 x"),
        (1, "a.csv", "text/csv", b"org_id\r\n1\r\n"),
    ]


def test_webhook_delivery_requires_an_endpoint(engine: Engine) -> None:
    with unscoped(engine) as conn:
        endpoint = conn.execute(
            text("INSERT INTO webhook_endpoints (name, url, secret)"
                 " VALUES ('ops', 'http://127.0.0.1:9/hook', 's3cret') RETURNING endpoint_id")
        ).scalar_one()
        delivery = enqueue_webhook(
            conn, endpoint_id=endpoint, event="alert.opened", payload={"alert_id": 7},
            source="alert:7", now=NOW,
        )
        row = conn.execute(
            text("SELECT channel, endpoint_id, subject, payload FROM deliveries"
                 " WHERE delivery_id = :d"),
            {"d": delivery},
        ).one()
    assert tuple(row) == ("webhook", endpoint, "alert.opened", {"alert_id": 7})


def test_message_with_attachment_arrives_at_smtp_server(
    settings: Settings, smtp_sink: MailSink
) -> None:
    smtp = settings.model_copy(
        update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port, "smtp_starttls": False}
    )
    msg = build_message(
        smtp,
        to="am@example.com",
        subject="Alert: Acme health 41",
        body_text="Acme's health score fell below 50.",
        attachments=[Attachment("review.pdf", "application/pdf", b"%PDF-1.7 body")],
    )
    send_message(smtp, msg)
    assert smtp_sink.envelopes == [("orgpulse@localhost", ["am@example.com"])]
    (received,) = smtp_sink.messages
    assert received["Subject"] == "Alert: Acme health 41"
    body = received.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "Acme's health score fell below 50."
    (part,) = list(received.iter_attachments())
    assert part.get_filename() == "review.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.7 body"


def test_send_without_smtp_host_refuses(settings: Settings) -> None:
    msg = build_message(settings, to="x@example.com", subject="s", body_text="b")
    with pytest.raises(SmtpNotConfigured, match="ORGPULSE_SMTP_HOST"):
        send_message(settings.model_copy(update={"smtp_host": None}), msg)

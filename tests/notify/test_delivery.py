"""Sending the outbox against real peers on loopback: an aiosmtpd server and an HTTP server.

Retry times are checked against the frozen ``now`` each pass is given: backoff 30 s, so a row
that fails at T is due again at T+30 s, then T+30+60 s, and so on (30 · 2^(attempts-1)).
"""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from mailsink import MailSink
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.jobs.registry import job_named
from orgpulse.notify import Attachment, enqueue_email, enqueue_webhook
from orgpulse.notify.delivery import LEASE, claim_due, deliver_due
from orgpulse.notify.signing import sign, verify_signature
from webhooksink import WebhookSink

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SECRET = "whsec_test-secret"


def _settings(settings: Settings, **update: Any) -> Settings:
    base = {"delivery_backoff_seconds": 30, "delivery_max_attempts": 3}
    return settings.model_copy(update={**base, **update})


def _smtp(settings: Settings, sink: MailSink, **update: Any) -> Settings:
    return _settings(
        settings, smtp_host=sink.host, smtp_port=sink.port, smtp_starttls=False, **update
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _row(engine: Engine, delivery_id: int) -> tuple[Any, ...]:
    with unscoped(engine) as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT status, attempts, next_attempt_at, last_status_code, sent_at"
                    " FROM deliveries WHERE delivery_id = :d"
                ),
                {"d": delivery_id},
            ).one()
        )


def _error(engine: Engine, delivery_id: int) -> str | None:
    with unscoped(engine) as conn:
        return conn.execute(
            text("SELECT last_error FROM deliveries WHERE delivery_id = :d"), {"d": delivery_id}
        ).scalar_one()


def _email(engine: Engine, **kw: Any) -> int:
    with unscoped(engine) as conn:
        return enqueue_email(
            conn,
            to=kw.get("to", "vp@example.com"),
            subject=kw.get("subject", "Monthly business review: Acme"),
            body_text="The review is attached.",
            source="subscription:1",
            now=T0,
            attachments=kw.get("attachments", ()),
        )


def _endpoint(engine: Engine, url: str, *, enabled: bool = True) -> int:
    with unscoped(engine) as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (name, url, secret, enabled)"
                    " VALUES ('ops', :u, :s, :e) RETURNING endpoint_id"
                ),
                {"u": url, "s": SECRET, "e": enabled},
            ).scalar_one()
        )


def _webhook(engine: Engine, endpoint_id: int, payload: dict[str, Any] | None = None) -> int:
    with unscoped(engine) as conn:
        return enqueue_webhook(
            conn, endpoint_id=endpoint_id, event="alert.opened",
            payload=payload or {"alert_id": 7, "org": "acme"}, source="alert:7", now=T0,
        )


# ---------------------------------------------------------------------------------- email
def test_email_with_pdf_arrives_with_recipient_subject_and_attachment(
    engine: Engine, settings: Settings, smtp_sink: MailSink
) -> None:
    delivery = _email(
        engine, to="marcus@example.com",
        attachments=[Attachment("acme-review.pdf", "application/pdf", PDF)],
    )
    result = deliver_due(engine, settings=_smtp(settings, smtp_sink), now=T0)
    assert (result.sent, result.retrying, result.dead) == ([delivery], [], [])
    assert smtp_sink.envelopes == [("orgpulse@localhost", ["marcus@example.com"])]
    (msg,) = smtp_sink.messages
    assert msg["To"] == "marcus@example.com"
    assert msg["Subject"] == "Monthly business review: Acme"
    (part,) = list(msg.iter_attachments())
    assert (part.get_filename(), part.get_content_type(), part.get_content()) == (
        "acme-review.pdf", "application/pdf", PDF
    )
    assert _row(engine, delivery) == ("sent", 1, T0, None, T0)
    # Sent once: a second pass finds nothing due.
    again = deliver_due(engine, settings=_smtp(settings, smtp_sink), now=T0 + timedelta(hours=1))
    assert (again.sent, len(smtp_sink.messages)) == ([], 1)


def test_smtp_down_retries_with_backoff_then_dead(engine: Engine, settings: Settings) -> None:
    down = _settings(settings, smtp_host="127.0.0.1", smtp_port=_closed_port(),
                     smtp_starttls=False)
    delivery = _email(engine)
    first = deliver_due(engine, settings=down, now=T0)
    assert first.retrying == [delivery]
    assert _row(engine, delivery) == ("pending", 1, T0 + timedelta(seconds=30), None, None)
    assert "ConnectionRefusedError" in (_error(engine, delivery) or "")
    # Not due one second early.
    early = deliver_due(engine, settings=down, now=T0 + timedelta(seconds=29))
    assert (early.sent, early.retrying, early.dead) == ([], [], [])
    t1 = T0 + timedelta(seconds=30)
    deliver_due(engine, settings=down, now=t1)
    assert _row(engine, delivery) == ("pending", 2, t1 + timedelta(seconds=60), None, None)
    t2 = t1 + timedelta(seconds=60)
    last = deliver_due(engine, settings=down, now=t2)
    assert last.dead == [delivery]
    assert _row(engine, delivery) == ("dead", 3, t2, None, None)
    # Dead rows are never picked up again.
    later = deliver_due(engine, settings=down, now=t2 + timedelta(days=1))
    assert (later.retrying, later.dead) == ([], [])


def test_smtp_unset_leaves_emails_waiting_without_counting_a_try(
    engine: Engine, settings: Settings
) -> None:
    delivery = _email(engine)
    result = deliver_due(engine, settings=_settings(settings, smtp_host=None), now=T0)
    assert (result.sent, result.retrying, result.waiting_for_smtp) == ([], [], 1)
    assert result.summary() == (
        "sent 0, retrying 0, dead 0; 1 emails wait: SMTP not configured"
    )
    assert _row(engine, delivery) == ("pending", 0, T0, None, None)


def test_smtp_permanent_refusal_is_dead_at_once(
    engine: Engine, settings: Settings, smtp_sink: MailSink
) -> None:
    async def refuse(server: Any, session: Any, envelope: Any, address: str,
                     rcpt_options: Any) -> str:
        return "550 no such user"

    smtp_sink.handle_RCPT = refuse  # type: ignore[attr-defined]
    delivery = _email(engine, to="gone@example.com")
    result = deliver_due(engine, settings=_smtp(settings, smtp_sink), now=T0)
    assert result.dead == [delivery]
    assert _row(engine, delivery) == ("dead", 1, T0, 550, None)


# -------------------------------------------------------------------------------- webhook
def test_webhook_500_twice_then_200_three_attempts_signed(
    engine: Engine, settings: Settings, webhook_sink: WebhookSink
) -> None:
    webhook_sink.script = [500, 500]
    endpoint = _endpoint(engine, webhook_sink.url)
    delivery = _webhook(engine, endpoint)
    s = _settings(settings, delivery_max_attempts=6)

    assert deliver_due(engine, settings=s, now=T0).retrying == [delivery]
    t1 = T0 + timedelta(seconds=30)
    assert _row(engine, delivery) == ("pending", 1, t1, 500, None)
    assert _error(engine, delivery) == "HTTP 500: receiver says no"
    assert deliver_due(engine, settings=s, now=t1).retrying == [delivery]
    t2 = t1 + timedelta(seconds=60)
    assert _row(engine, delivery) == ("pending", 2, t2, 500, None)
    assert deliver_due(engine, settings=s, now=t2).sent == [delivery]
    assert _row(engine, delivery) == ("sent", 3, t2, 200, t2)

    assert len(webhook_sink.requests) == 3
    sent_at = [T0, t1, t2]
    for request, at in zip(webhook_sink.requests, sent_at, strict=True):
        h = request.headers
        assert request.path == "/hook"
        assert h["content-type"] == "application/json"
        assert h["x-orgpulse-event"] == "alert.opened"
        assert h["x-orgpulse-delivery"] == str(delivery)
        assert h["x-orgpulse-timestamp"] == str(int(at.timestamp()))
        assert orjson.loads(request.body) == {
            "event": "alert.opened", "delivery_id": delivery,
            "data": {"alert_id": 7, "org": "acme"},
        }
        assert verify_signature(
            SECRET, h["x-orgpulse-timestamp"], request.body, h["x-orgpulse-signature"],
            tolerance_seconds=300, now=at.timestamp(),
        )
        assert not verify_signature(
            "whsec_other", h["x-orgpulse-timestamp"], request.body,
            h["x-orgpulse-signature"], tolerance_seconds=300, now=at.timestamp(),
        )


@pytest.mark.parametrize(("code", "status", "next_at"), [
    (410, "dead", T0), (400, "dead", T0), (302, "dead", T0),
    (429, "pending", T0 + timedelta(seconds=30)), (408, "pending", T0 + timedelta(seconds=30)),
    (503, "pending", T0 + timedelta(seconds=30)),
])
def test_webhook_status_codes(
    engine: Engine, settings: Settings, webhook_sink: WebhookSink, code: int, status: str,
    next_at: datetime,
) -> None:
    webhook_sink.script = [code]
    delivery = _webhook(engine, _endpoint(engine, webhook_sink.url))
    deliver_due(engine, settings=_settings(settings), now=T0)
    assert _row(engine, delivery) == (status, 1, next_at, code, None)
    assert len(webhook_sink.requests) == 1


def test_webhook_connection_refused_retries(engine: Engine, settings: Settings) -> None:
    delivery = _webhook(engine, _endpoint(engine, f"http://127.0.0.1:{_closed_port()}/x"))
    assert deliver_due(engine, settings=_settings(settings), now=T0).retrying == [delivery]
    assert _row(engine, delivery) == ("pending", 1, T0 + timedelta(seconds=30), None, None)
    assert (_error(engine, delivery) or "").startswith("ConnectError")


def test_disabled_endpoint_waits_until_enabled(
    engine: Engine, settings: Settings, webhook_sink: WebhookSink
) -> None:
    endpoint = _endpoint(engine, webhook_sink.url, enabled=False)
    delivery = _webhook(engine, endpoint)
    assert deliver_due(engine, settings=_settings(settings), now=T0).sent == []
    assert _row(engine, delivery) == ("pending", 0, T0, None, None)
    with unscoped(engine) as conn:
        conn.execute(text("UPDATE webhook_endpoints SET enabled = true"))
    assert deliver_due(engine, settings=_settings(settings), now=T0).sent == [delivery]


def test_signature_is_hmac_of_timestamp_dot_body_and_refuses_replays() -> None:
    body = b'{"event":"x"}'
    # Independently: HMAC-SHA256("k", "1700000000.{"event":"x"}") computed with openssl.
    header = sign("k", 1_700_000_000, body)
    import hashlib
    import hmac

    expected = hmac.new(b"k", b'1700000000.{"event":"x"}', hashlib.sha256).hexdigest()
    assert header == f"sha256={expected}"
    assert verify_signature("k", "1700000000", body, header, tolerance_seconds=300,
                            now=1_700_000_300)
    assert not verify_signature("k", "1700000000", body, header, tolerance_seconds=300,
                                now=1_700_000_301)
    assert not verify_signature("k", "1700000000", body + b" ", header, tolerance_seconds=300,
                                now=1_700_000_000)
    assert not verify_signature("k", "1700000001", body, header, tolerance_seconds=300,
                                now=1_700_000_000)
    assert not verify_signature("k", "soon", body, header, tolerance_seconds=300)


# --------------------------------------------------------------------------- concurrency
def test_two_claimers_never_take_the_same_row(engine: Engine, settings: Settings) -> None:
    endpoint = _endpoint(engine, "http://127.0.0.1:9/hook")
    ids = [_webhook(engine, endpoint, {"n": n}) for n in range(10)]
    with engine.connect() as a, engine.connect() as b:
        a.begin()
        first = claim_due(a, now=T0, limit=4, smtp_configured=False)
        b.begin()
        second = claim_due(b, now=T0, limit=10, smtp_configured=False)  # skips a's locked rows
        b.commit()
        a.commit()
    assert [c.delivery_id for c in first] == ids[:4]
    assert [c.delivery_id for c in second] == ids[4:]
    with unscoped(engine) as conn:
        leased = conn.execute(
            text("SELECT DISTINCT next_attempt_at, attempts FROM deliveries")
        ).all()
        again = claim_due(conn, now=T0 + LEASE - timedelta(seconds=1), limit=10,
                          smtp_configured=False)
    assert [tuple(r) for r in leased] == [(T0 + LEASE, 1)]
    assert again == []  # leased: not due until the lease ends


def test_two_workers_send_each_delivery_exactly_once(
    engine: Engine, settings: Settings, webhook_sink: WebhookSink
) -> None:
    endpoint = _endpoint(engine, webhook_sink.url)
    ids = [_webhook(engine, endpoint, {"n": n}) for n in range(20)]
    s = _settings(settings)
    start = threading.Barrier(2)
    sent: list[list[int]] = [[], []]

    def worker(slot: int) -> None:
        start.wait()
        sent[slot] = deliver_due(engine, settings=s, now=T0).sent

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent[0] + sent[1]) == ids
    assert sorted(int(r.headers["x-orgpulse-delivery"]) for r in webhook_sink.requests) == ids


# ------------------------------------------------------------------------------ job + CLI
def test_deliveries_job_is_registered_every_30_seconds(
    engine: Engine, settings: Settings, webhook_sink: WebhookSink
) -> None:
    job = job_named("deliveries")
    assert (job.every_seconds, job.as_owner) == (30, False)
    delivery = _webhook(engine, _endpoint(engine, webhook_sink.url))
    with engine.begin() as conn:
        detail = job.work(conn, _settings(settings), T0)
    assert detail == "sent 1, retrying 0, dead 0"
    assert _row(engine, delivery)[0] == "sent"


def test_cli_sends_one_pass(
    cli_env: Any, engine: Engine, webhook_sink: WebhookSink
) -> None:
    from orgpulse.cli.main import app

    webhook_sink.script = [500]
    first = _webhook(engine, _endpoint(engine, webhook_sink.url))
    second = _webhook(engine, _endpoint(engine, webhook_sink.url))
    result = cli_env.invoke(app, ["deliveries", "send"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 1, retrying 1, dead 0"
    assert (_row(engine, first)[0], _row(engine, second)[0]) == ("pending", "sent")
    with unscoped(engine) as conn:
        runs = conn.execute(text("SELECT job, status, detail FROM job_runs")).all()
    assert [tuple(r) for r in runs] == [("deliveries", "succeeded", "sent 1, retrying 1, dead 0")]

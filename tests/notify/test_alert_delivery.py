"""End to end: an alert raised by evaluation reaches its recipients' mailbox and a webhook peer.

Evaluation only queues deliveries; the deliveries pass sends them to a real SMTP server and a
real HTTP server on loopback, and the webhook body verifies with the endpoint's secret.
"""

from __future__ import annotations

import orjson
from sqlalchemy import text

from alertdata import TODAY, evaluate, set_rule, snapshot, world
from datasets import NOW
from factories import Factory
from mailsink import MailSink
from orgpulse.core.tenancy import unscoped
from orgpulse.notify import deliver_due, verify_signature
from webhooksink import WebhookSink


def test_health_alert_email_and_signed_webhook_arrive(
    factory: Factory, smtp_sink: MailSink, webhook_sink: WebhookSink
) -> None:
    w = world(factory)
    evaluate(factory)  # installs the shipped rules
    set_rule(factory.engine, "health_below", channels=["inapp", "email", "webhook"])
    with unscoped(factory.engine) as conn:
        conn.execute(
            text("INSERT INTO webhook_endpoints (name, url, secret) VALUES ('ops', :u, 'whsec_t')"),
            {"u": webhook_sink.url},
        )
    snapshot(factory.engine, w.a, TODAY, 42)
    assert evaluate(factory).opened == 1

    settings = factory.settings.model_copy(
        update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port, "smtp_starttls": False}
    )
    result = deliver_due(factory.engine, settings=settings, now=NOW)
    assert (len(result.sent), result.retrying, result.dead) == (3, [], [])

    # Acme's account manager and the cs leader; not Beta's AM, nor the org admin (rule default).
    assert sorted(rcpt for _, rcpt in smtp_sink.envelopes) == [
        ["am-a@example.test"], ["leader@example.test"]
    ]
    for msg in smtp_sink.messages:
        assert msg["Subject"] == "[OrgPulse] Health score below threshold"
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        assert "Acme Schools: health score 42 on 2026-06-15 is below 50." in body.get_content()

    (hook,) = webhook_sink.requests
    assert hook.headers["x-orgpulse-event"] == "alert.opened"
    assert verify_signature(
        "whsec_t", hook.headers["x-orgpulse-timestamp"], hook.body,
        hook.headers["x-orgpulse-signature"], now=NOW.timestamp(),
    )
    body = orjson.loads(hook.body)
    assert (body["event"], body["data"]["org"]["slug"], body["data"]["value"]) == (
        "alert.opened", "acme-schools", 42.0
    )

"""Outbound notifications: the delivery outbox (email over SMTP, signed webhooks).

Producers (alert evaluation, report subscriptions) only *enqueue* rows in one transaction with
the state change that caused them; the ``deliveries`` job sends them, retries with back-off and
dead-letters after ``ORGPULSE_DELIVERY_MAX_ATTEMPTS`` tries. Nothing is sent from a web request.
"""

from orgpulse.notify.delivery import DeliveryPass, deliver_due
from orgpulse.notify.outbox import Attachment, enqueue_email, enqueue_webhook
from orgpulse.notify.signing import verify_signature

__all__ = [
    "Attachment",
    "DeliveryPass",
    "deliver_due",
    "enqueue_email",
    "enqueue_webhook",
    "verify_signature",
]

"""Build and send one email over SMTP (stdlib ``smtplib``; the outbox decides when)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from orgpulse.core.config import Settings
from orgpulse.notify.outbox import Attachment


class SmtpNotConfigured(RuntimeError):
    """``ORGPULSE_SMTP_HOST`` is unset: emails wait in the outbox."""


def build_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="orgpulse")
    msg.set_content(body_text)
    if body_html is not None:
        msg.add_alternative(body_html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(
            item.content, maintype=maintype, subtype=subtype or "octet-stream",
            filename=item.filename,
            # Text attachments (CSV) are UTF-8: say so, or readers assume ASCII.
            params={"charset": "utf-8"} if maintype == "text" else None,
        )
    return msg


def send_message(settings: Settings, msg: EmailMessage) -> None:
    """Send ``msg`` to the configured SMTP server; raises on any refusal or network error."""
    if not settings.smtp_host:
        raise SmtpNotConfigured("ORGPULSE_SMTP_HOST is not set")
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        refused = smtp.send_message(msg)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

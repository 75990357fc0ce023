"""E-mail through SMTP (the standard library's smtplib; settings: host, port, from)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from clearinghouse.core.config import Settings
from clearinghouse.notifications.errors import EmailDisabled


def send_email(settings: Settings, *, to: str, subject: str, body: str, message_id: str) -> None:
    """Send one message. `message_id` (a delivery or digest id) is the Message-ID, the same on
    every attempt, so a repeat after a crash is recognisable."""
    if not settings.smtp_host:
        raise EmailDisabled("e-mail is disabled: set CLEARINGHOUSE_SMTP_HOST")
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject.replace("\r", " ").replace("\n", " ")[:200]
    msg["Message-ID"] = f"<{message_id}@clearinghouse>"
    msg.set_content(body)
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.endpoint_timeout_seconds
    ) as smtp:
        smtp.send_message(msg)

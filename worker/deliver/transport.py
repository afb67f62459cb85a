"""Where a message goes: the SMTP server of TONGKET_SMTP_URL, or (the embedded default) the outbox folder."""

from __future__ import annotations

from tongket.worker.deliver import smtp
from tongket.worker.deliver.outbox import write_eml
from tongket.worker.settings import Settings


def hand_over(settings: Settings, data: bytes, message_id: str, sender: str, recipient: str) -> str:
    """Give one message (in wire form) to the mail system; returns where it went. Raises TransientError or
    DeliveryFailed."""
    if settings.smtp_url:
        config = smtp.SmtpConfig.from_url(settings.smtp_url, settings.smtp_password)
        smtp.send(config, sender, recipient, data)
        return f"smtp://{config.host}:{config.port}"
    # Named by Message-ID: writing the same message again replaces the file, it never doubles it.
    return str(write_eml(settings.outbox_dir, message_id, data))

"""Where a message goes: the SMTP server of TONGKET_SMTP_URL, or (the embedded default) the outbox folder."""

from __future__ import annotations

import errno
from collections.abc import Callable

from tongket.models.errors import TransientError
from tongket.worker.deliver import smtp
from tongket.worker.deliver.outbox import write_eml
from tongket.worker.settings import Settings


def hand_over(
    settings: Settings,
    data: bytes,
    message_id: str,
    sender: str,
    recipient: str,
    on_data_sent: Callable[[], None] | None = None,
) -> str:
    """Give one message (in wire form) to the mail system; returns where it went. Raises TransientError or
    DeliveryFailed."""
    if settings.smtp_url:
        config = smtp.SmtpConfig.from_url(settings.smtp_url, settings.smtp_password)
        smtp.send(config, sender, recipient, data, on_data_sent)
        return f"smtp://{config.host}:{config.port}"
    # Named by Message-ID: writing the same message again replaces the file, it never doubles it.
    try:
        return str(write_eml(settings.outbox_dir, message_id, data))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # someone frees space: the retry then succeeds
            raise TransientError(f"disk full: {exc}; free space in {settings.outbox_dir}") from exc
        if exc.errno == errno.EIO:
            raise TransientError(f"disk error: {exc}; check the disk of {settings.outbox_dir}") from exc
        raise

"""How the worker logs: its effective configuration with secrets masked, and the two formats, text or one
JSON object per line (TONGKET_LOG_FORMAT=json) for a log collector. The state-change lines themselves are
written by `tongket.models.statelog`, which every layer may use."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from tongket.worker.settings import Settings

TEXT_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s"

worker = logging.getLogger("tongket.worker")


def masked(url: str) -> str:
    """A URL fit for a log: its password replaced by ***."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def effective_config(settings: Settings) -> dict[str, str]:
    """What a worker runs with, safe to log: where its data, queue and mail go."""
    return {
        "database": masked(settings.db_url),
        "broker": masked(settings.broker),
        "mail": masked(settings.smtp_url) or f"files in {settings.outbox_dir}",
        "mail_from": settings.mail_from,
        "smtp_password": "***" if settings.smtp_password else "",
        "data_dir": str(settings.data_dir),
        "timezone": settings.timezone,
        "task_time_limit": str(settings.task_time_limit),
        "log_format": settings.log_format,
    }


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def use_format(logger: logging.Logger, kind: str) -> None:
    """Give every handler of a logger our format (Celery made the handlers; we choose what they write)."""
    for handler in logger.handlers:
        handler.setFormatter(formatter(kind))

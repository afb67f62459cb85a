"""One typed settings object, read once from TONGKET_* environment variables, with embedded defaults.

Any setting may instead come from a file named by TONGKET_<NAME>_FILE (for secrets mounted by Docker).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "TONGKET_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""  # empty: a SQLite file in data_dir
    broker_url: str = ""  # empty: a filesystem queue in data_dir, no server needed
    smtp_url: str = ""  # empty: emails are written as .eml files into data_dir/outbox
    mail_from: str = "Hệ thống báo cáo tongket <tongket@localhost>"
    smtp_password: str = ""  # overrides the URL's password; TONGKET_SMTP_PASSWORD_FILE for a Docker secret
    mail_max_bytes: int = 10_000_000  # a whole message (PDF in base64) above this goes as a notice instead
    reports_url: str = ""  # where recipients fetch a report too big to attach (base URL of reports_dir)
    delivery_max_attempts: int = 10  # transient SMTP failures retried up to this many attempts in all
    delivery_retry_seconds: float = 15  # the first retry's delay; it doubles up to delivery_retry_max_seconds
    delivery_retry_max_seconds: float = 300  # kept short: long countdowns on Redis outlive the visibility timeout
    delivery_lease_seconds: float = 300  # a delivery 'sending' this long belongs to a worker that died
    timezone: str = "Asia/Ho_Chi_Minh"
    collect_minutes: float = 60  # how long a run waits for communes before it reports them missing
    # A unit with nothing yet (or a source down) is tried again after this many seconds, doubling up to the
    # maximum; kept far below the Redis visibility timeout (1 h) so a countdown never outlives it.
    collect_retry_seconds: float = 30.0
    collect_retry_max_seconds: float = 300.0
    max_form_bytes: int = 5_000_000  # a delivered file or HTTP body larger than this is rejected
    http_connect_timeout: float = 5.0  # seconds, commune HTTP endpoints
    http_read_timeout: float = 30.0
    font: Literal["auto", "liberation", "bevietnampro"] = "auto"  # auto: Liberation Serif 2 where installed

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Ho_Chi_Minh") from exc
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Workers may run from another directory than the CLI; pin the path once.
        return value.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tongket.db'}"

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    @property
    def broker(self) -> str:
        return self.broker_url or "filesystem://localhost/"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def dropbox_dir(self) -> Path:
        return self.data_dir / "dropbox"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _from_files() -> dict[str, str]:
    """Values of TONGKET_X_FILE variables, read from the files they name."""
    values = {}
    for key, path in os.environ.items():
        if key.startswith(PREFIX) and key.endswith("_FILE"):
            name = key[len(PREFIX):-len("_FILE")].lower()
            values[name] = Path(path).read_text(encoding="utf-8").strip()
    return values


@cache
def get_settings() -> Settings:
    return Settings(**_from_files())  # type: ignore[arg-type]

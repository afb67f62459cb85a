"""One typed settings object, read once from TONGKET_* environment variables, with embedded defaults.

Any setting may instead come from a file named by TONGKET_<NAME>_FILE (for secrets mounted by Docker).
A `.env` file in the working directory is read too. Precedence, first wins: TONGKET_<NAME>_FILE (from the
environment or `.env`), the environment, `.env`, the default.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "TONGKET_"
ENV_FILE = ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", env_file=ENV_FILE, env_file_encoding="utf-8")

    data_dir: Path = Path("var")
    database_url: str = ""  # empty: a SQLite file in data_dir
    broker_url: str = ""  # empty: a filesystem queue in data_dir, no server needed
    smtp_url: str = ""  # empty: emails are written as .eml files into data_dir/outbox
    mail_from: str = "Hệ thống báo cáo tongket <tongket@localhost>"
    contact: str = ""  # whom recipients write to (Reply-To) when no schedule owner is named; default: the sender
    smtp_password: str = ""  # overrides the URL's password; TONGKET_SMTP_PASSWORD_FILE for a Docker secret
    mail_max_bytes: int = 10_000_000  # a whole message (PDF in base64) above this goes as a notice instead
    reports_url: str = ""  # where recipients fetch a report too big to attach (base URL of reports_dir)
    delivery_max_attempts: int = 10  # transient SMTP failures retried up to this many attempts in all
    delivery_retry_seconds: float = 15  # the first retry's delay; it doubles up to delivery_retry_max_seconds
    delivery_retry_max_seconds: float = 300  # kept short: long countdowns on Redis outlive the visibility timeout
    delivery_lease_seconds: float = 300  # a delivery 'sending' this long belongs to a worker that died
    # A deliver task also takes up to this many emails of the same run never tried yet (one claim, one
    # connection); 1 sends each email in its own task only.
    delivery_batch: int = 20
    # A worker does a run's next step itself when it takes that step's queue anyway (a commune's collect from a
    # local source, a small report's render: app.DbTask.carry_on) rather than queue it as a task; off: one task each.
    steps_here: bool = True
    timezone: str = "Asia/Ho_Chi_Minh"
    # Communes by email: the intake mailbox (imaps://user@host[:port]/INBOX), its password (use
    # TONGKET_IMAP_PASSWORD_FILE), the address communes reply to, and limits on what a message may carry.
    imap_url: str = ""
    imap_password: str = ""
    # CA certificates (PEM) the intake server's certificate is checked against, besides the system's: for an
    # office mail server with its own CA. Verification is always on; there is no setting to turn it off.
    imap_ca_file: str = ""
    intake_address: str = ""  # Reply-To of requests and receipts; empty: replies go to mail_from
    intake_seconds: float = 60  # how often beat polls the mailbox
    intake_max_bytes: int = 20_000_000  # a larger message is refused unread (and its sender told)
    intake_max_attachments: int = 10  # more form files than this in one message: refused
    intake_batch: int = 500  # messages taken per poll; the poll goes on at once while more wait
    intake_chunk: int = 20  # messages committed together (and fetched and marked done together)
    intake_workers: int = 2  # a backlog is shared among this many polls (by UID), e.g. the collect workers
    reminder_hours: str = "72,24"  # reminders this many hours before the collection deadline
    collect_minutes: float = 60  # how long a run waits for communes before it reports them missing
    # A unit with nothing yet (or a source down) is tried again after this many seconds, doubling up to the
    # maximum; kept far below the Redis visibility timeout (1 h) so a countdown never outlives it.
    collect_retry_seconds: float = 30.0
    collect_retry_max_seconds: float = 300.0
    max_form_bytes: int = 5_000_000  # a delivered file or HTTP body larger than this is rejected
    # A dropped file that changed less than this many seconds ago is still being copied: read on a later try.
    # 0 (off) by default so that a form dropped just before a run (the demo) is read at once; set e.g. 10
    # where offices copy into the folder over the network.
    drop_settle_seconds: float = 0.0
    http_connect_timeout: float = 5.0  # seconds, commune HTTP endpoints
    http_read_timeout: float = 30.0
    http_total_timeout: float = 60.0  # seconds for a whole fetch: read timeouts are per read
    # PDF font. auto: the office's Times New Roman when font_dir is set, else Crimson Text from the pip
    # package, never a system font, so the same report has the same bytes on every machine.
    font: Literal["auto", "crimson", "times", "liberation", "bevietnampro"] = "auto"
    font_dir: Path | None = None  # a folder with times.ttf, timesbd.ttf, timesi.ttf, timesbi.ttf
    # Time: the beat's intervals, catch-up after downtime, and when the reconciler takes a run for stuck.
    tick_seconds: float = 60  # how often beat plans due runs
    reconcile_seconds: float = 60  # how often beat re-drives stuck runs
    catchup_hours: float = 7 * 24  # periods that fell due this long ago are still planned after downtime
    task_time_limit: int = 660  # hard limit of one task in seconds; the soft one comes a little earlier
    timeout_planned: float = 300  # seconds a run may wait for its start task
    timeout_collect_unit: float = 900  # seconds a pending unit may go without news
    timeout_render: float = 900  # seconds a run may stay rendering; above the hard task limit
    timeout_deliver: float = 900  # seconds a pending email may wait for its task
    max_redrives: int = 3  # re-sends of one state before the run is failed as stuck
    retention_days: int = 730  # finished runs and their PDFs older than this are pruned
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, for a log collector
    max_clock_skew_seconds: float = 120  # planning and pruning refuse when host and database clocks differ more

    @model_validator(mode="after")
    def _coherent_times(self) -> Settings:
        if self.timeout_render <= self.task_time_limit:
            raise ValueError(
                "TONGKET_TIMEOUT_RENDER must exceed TONGKET_TASK_TIME_LIMIT, or a slow render would be started twice"
            )
        if self.retention_days * 24 <= self.catchup_hours:
            raise ValueError(
                "TONGKET_RETENTION_DAYS must exceed the catch-up horizon, or a pruned run would be planned again"
            )
        return self

    @field_validator("reminder_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        try:
            hours = [float(h) for h in value.split(",") if h.strip()]
        except ValueError:
            raise ValueError(
                f"TONGKET_REMINDER_HOURS must be hours separated by commas, e.g. 72,24: {value!r}"
            ) from None
        if any(h <= 0 for h in hours):
            raise ValueError("TONGKET_REMINDER_HOURS must be positive hours")
        return value

    @field_validator("delivery_batch")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"TONGKET_DELIVERY_BATCH must be 1 or more (1: one email per task), not {value}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Ho_Chi_Minh") from exc
        return value

    @field_validator("contact")
    @classmethod
    def _an_address(cls, value: str) -> str:
        from tongket.models.addresses import valid_email
        from tongket.models.errors import ConfigError

        try:
            return valid_email(value) if value else value
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

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
        return self.broker_url or "fsqueue://localhost/"  # tongket.worker.fsqueue

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
    def soft_time_limit(self) -> int:
        """When a task is asked to stop: a tenth before the hard limit, at most a minute."""
        return self.task_time_limit - max(1, min(60, self.task_time_limit // 10))

    @property
    def visibility_timeout(self) -> int:
        """Seconds Redis holds an unacknowledged message before giving it to another worker.

        It must outlast any message held legitimately (a running task up to its hard limit, plus the one
        prefetched behind it), or a slow task would run twice; recovery from a dead worker does not wait
        for it, since the reconciler re-sends stuck work after its own, shorter timeouts."""
        return 2 * self.task_time_limit + 600

    @property
    def reminders(self) -> tuple[float, ...]:
        """The reminder offsets in hours, largest first."""
        return tuple(sorted((float(h) for h in self.reminder_hours.split(",") if h.strip()), reverse=True))

    @property
    def mail_dir(self) -> Path:
        """Where every message taken from the intake mailbox is kept, as received."""
        return self.data_dir / "mail"

    @property
    def forms_dir(self) -> Path:
        """The forms sent to communes with requests, reminders and rejections."""
        return self.data_dir / "forms"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _from_files() -> dict[str, str]:
    """Values of TONGKET_X_FILE variables (in the environment or `.env`), read from the files they name."""
    values = {}
    named = {**{k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None}, **os.environ}
    for key, path in named.items():
        if key.startswith(PREFIX) and key.endswith("_FILE"):
            name = key[len(PREFIX) : -len("_FILE")].lower()
            values[name] = Path(path).read_text(encoding="utf-8").strip()
    return values


@cache
def get_settings() -> Settings:
    return Settings(**_from_files())  # type: ignore[arg-type]  # strings from *_FILE: pydantic converts them

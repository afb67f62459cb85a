"""The intake mailbox over IMAP (stdlib imaplib): which messages are new, their size, their bytes, and the
keyword that marks one done. Configured by URL: imaps://user@host[:port]/INBOX (TLS from the start) or
imap://user@host[:port]/INBOX[?starttls=1]; the password from the imap_password setting
(TONGKET_IMAP_PASSWORD_FILE) or the URL.

imaplib is enough: we need SELECT, UID SEARCH, UID FETCH and UID STORE, nothing a library would add but a
dependency. A message is marked with the keyword DONE_KEYWORD (and \\Seen) only after the database has
recorded its outcome, so a worker that dies in between leaves it to be found again, and the database
says it is done.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from tongket.models.errors import ConfigError, SourceBroken, SourceUnavailable

DONE_KEYWORD = "TongketDone"
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+)")


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: bool
    starttls: bool
    user: str
    password: str
    folder: str
    timeout: float
    ca_file: str = ""

    @classmethod
    def from_url(cls, url: str, password: str = "", ca_file: str = "") -> ImapConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps"):
            raise ConfigError(f"TONGKET_IMAP_URL must start with imaps:// or imap://, not {parts.scheme}://")
        if not parts.username:
            raise ConfigError("TONGKET_IMAP_URL must name the user: imaps://user@host/INBOX")
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (993 if parts.scheme == "imaps" else 143),
            tls=parts.scheme == "imaps",
            starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
            user=unquote(parts.username),
            password=password or unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            timeout=float(query.get("timeout", ["30"])[0]),
            ca_file=ca_file,
        )

    def tls_context(self) -> ssl.SSLContext:
        """The server's certificate and host name are always verified: against the system's CAs, and the
        office's own CA when ca_file names one (a missing file fails here, it never falls back to no check)."""
        try:
            context = ssl.create_default_context()
            if self.ca_file:
                context.load_verify_locations(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"TONGKET_IMAP_CA_FILE {self.ca_file!r} cannot be read as PEM: {exc}") from exc
        return context

    @property
    def name(self) -> str:
        """The mailbox as the database keys it (no password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


class Mailbox:
    """One session with the intake folder. Raises SourceUnavailable when the server cannot be reached
    now, SourceBroken when it refuses us (wrong password, no such folder)."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.client: imaplib.IMAP4 | None = None
        self.uid_validity = 0

    def __enter__(self) -> Mailbox:
        config = self.config
        try:
            if config.tls:
                self.client = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=config.tls_context(), timeout=config.timeout
                )
            else:
                self.client = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
                if config.starttls:
                    self.client.starttls(config.tls_context())
            self.client.login(config.user, config.password)
            status, _ = self.client.select(_quoted(config.folder))
            if status != "OK":
                raise SourceBroken(f"IMAP folder {config.folder!r} cannot be opened")
            self.uid_validity = self._uid_validity()
        except ssl.SSLCertVerificationError as exc:  # not the server we mean, or its CA is not configured
            self._close()
            raise SourceBroken(
                f"IMAP {config.host}:{config.port}: certificate not trusted ({exc.verify_message}); "
                "set TONGKET_IMAP_CA_FILE to the mail server's CA"
            ) from exc
        except imaplib.IMAP4.error as exc:  # a NO/BAD answer: login or folder refused
            self._close()
            raise SourceBroken(f"IMAP {config.host}:{config.port} refused: {exc}") from exc
        except (TimeoutError, OSError, imaplib.IMAP4.abort) as exc:
            self._close()
            raise SourceUnavailable(f"IMAP {config.host}:{config.port} not reachable: {exc}") from exc
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._close()

    def waiting(self) -> list[int]:
        """UIDs of the messages not yet marked done, oldest first."""
        first = self._uid("SEARCH", "UNKEYWORD", DONE_KEYWORD)[0]
        return sorted(int(uid) for uid in (first if isinstance(first, bytes) else b"").split())

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """Each message's size in bytes, before it is fetched."""
        if not uids:
            return {}
        found: dict[int, int] = {}
        for item in self._uid("FETCH", _set(uids), "(UID RFC822.SIZE)"):
            line = item[0] if isinstance(item, tuple) else item
            match = _SIZE.search(line or b"")
            if match:
                uid, size = (match[1], match[2]) if match[1] else (match[4], match[3])
                found[int(uid)] = int(size)
        return found

    def fetch(self, uid: int, header_only: bool = False) -> bytes:
        """A message's bytes as stored (BODY.PEEK: fetching does not mark it read)."""
        what = "(BODY.PEEK[HEADER])" if header_only else "(BODY.PEEK[])"
        for item in self._uid("FETCH", str(uid), what):
            if isinstance(item, tuple) and len(item) == 2:
                return bytes(item[1])
        raise SourceUnavailable(f"IMAP gave no body for UID {uid}")

    def fetch_many(self, uids: list[int]) -> dict[int, bytes]:
        """Several messages' bytes in one UID FETCH (one round trip); a UID the server does not answer
        for is left out (it is fetched alone later)."""
        if not uids:
            return {}
        found: dict[int, bytes] = {}
        for item in self._uid("FETCH", _set(uids), "(UID BODY.PEEK[])"):
            if isinstance(item, tuple) and len(item) == 2:
                match = _UID.search(item[0])
                if match:
                    found[int(match[1])] = bytes(item[1])
        return found

    def mark_done(self, *uids: int) -> None:
        if uids:
            self._uid("STORE", _set(list(uids)), "+FLAGS", f"({DONE_KEYWORD} \\Seen)")

    def _uid(self, command: str, *args: str) -> list[bytes | tuple[bytes, bytes]]:
        assert self.client is not None
        try:
            status, data = self.client.uid(command, *args)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise SourceUnavailable(f"IMAP {command} failed: {exc}") from exc
        if status != "OK":
            raise SourceUnavailable(f"IMAP {command} answered {status}: {data!r}"[:300])
        return list(data)

    def _uid_validity(self) -> int:
        assert self.client is not None
        _, data = self.client.response("UIDVALIDITY")
        for item in data:
            if item:
                return int(item)
        status, data = self.client.status(_quoted(self.config.folder), "(UIDVALIDITY)")
        match = _UIDVALIDITY.search(data[0] if data and isinstance(data[0], bytes) else b"")
        if status != "OK" or match is None:
            raise SourceBroken("the IMAP server gives no UIDVALIDITY")
        return int(match[1])

    def _close(self) -> None:
        if self.client is None:
            return
        with contextlib.suppress(OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort):
            self.client.logout()
        self.client = None


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)

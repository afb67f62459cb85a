"""The HTTP source: a commune's own system serves its figures as JSON at a URL we GET.

Transient failures (timeouts, refused or dropped connections, 5xx, 429) raise SourceUnavailable and are
retried by the caller until the run's deadline; a 404 means "not published yet" (None); other 4xx raise
SourceBroken (someone must fix the source's settings). A body is read only up to one byte past the size
limit, so an endless response cannot fill memory, and only until the fetch's overall deadline: httpx's
timeouts are per read, so an endpoint dripping a byte a second would otherwise hold a worker for hours.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache

import httpx

from tongket.models.errors import SourceBroken, SourceUnavailable
from tongket.models.redact import redact_text, redact_url


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_bytes: int = 5_000_000
    settle_seconds: float = 0.0  # a dropped file changed more recently than this is not read yet
    total_timeout: float = 60.0  # seconds for the whole fetch, however the bytes trickle in


def source_url(template: str, unit_code: str, period_id: str) -> str:
    """The URL for one unit and period: "{unit}" and "{period}" in the template are filled in."""
    return template.replace("{unit}", unit_code).replace("{period}", period_id)


def fetch(
    url: str, limits: HttpLimits, headers: dict[str, str] | None = None, client: httpx.Client | None = None
) -> bytes | None:
    """The body at url, or None when the endpoint has nothing for this period yet (404)."""
    shown = redact_url(url)  # what errors say: a token in the query string stays out of logs and the CLI
    deadline = time.monotonic() + limits.total_timeout
    # No single wait may outlast the overall deadline either.
    read = min(limits.read_timeout, limits.total_timeout)
    timeout = httpx.Timeout(read, connect=min(limits.connect_timeout, limits.total_timeout))
    http = client or _shared_client(os.getpid())
    try:
        with http.stream(
            "GET", url, headers={"Accept": "application/json", **(headers or {})}, timeout=timeout
        ) as response:
            if response.status_code == 404:
                return None
            _check_status(response, shown)
            return _read_capped(response, limits.max_bytes, deadline, shown)
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"{shown}: no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:  # refused, reset, DNS, a body cut short
        raise SourceUnavailable(f"{shown}: {type(exc).__name__}: {redact_text(str(exc))}") from exc
    except httpx.InvalidURL as exc:
        raise SourceBroken(f"{shown}: invalid URL: {redact_text(str(exc))}") from exc


@cache
def _shared_client(pid: int) -> httpx.Client:
    # One pooled client per process (keyed by pid: a forked worker must not reuse its parent's sockets);
    # building a client costs milliseconds of TLS setup, too much to pay per commune.
    return httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))


def _check_status(response: httpx.Response, url: str) -> None:
    status = response.status_code
    if status >= 500 or status in (408, 429):
        raise SourceUnavailable(f"{url}: HTTP {status}")
    if status >= 300:
        raise SourceBroken(f"{url}: HTTP {status}; check the source's URL and credentials")


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float, url: str) -> bytes:
    # Stop one byte past the limit: ingest then rejects it as too large, as it does an oversized file.
    # The deadline is checked as each piece arrives, so a fetch ends at most one read timeout after it.
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            break
        if time.monotonic() > deadline:
            raise SourceUnavailable(
                f"{url}: the answer took longer than the overall deadline ({len(body)} bytes so far)"
            )
    return bytes(body[: max_bytes + 1])

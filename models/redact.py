"""Secrets out of every output: a URL's password and its query values are masked before it is printed,
logged, stored as an origin, or quoted in a report.

One helper for all outputs, so that a new output cannot forget a case: `redact_url` for a URL held on its
own, `redact_text` for any text that may contain URLs (an error message, a log line).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

MASK = "***"
# A URL inside free text: a scheme, "://", then anything up to white space or a quote or bracket.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]]+")
_QUERY_PAIR = re.compile(r"(?P<key>[^&=;]*)(?P<eq>=?)(?P<value>[^&;]*)")


def redact_url(url: str) -> str:
    """The URL with its password (user:PASSWORD@) and every query value (?token=VALUE) replaced by ***.

    The user name, host, port and path stay: the operator needs them to know which server is meant."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _crude(url)
    return urlunsplit(
        SplitResult(parts.scheme, _netloc(parts), parts.path, _query(parts.query), _fragment(parts.fragment))
    )


def redact_text(text: str) -> str:
    """Any text with every URL in it redacted."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        tail = url[len(url.rstrip(".,:;!")) :]  # punctuation of the sentence, not of the URL
        return redact_url(url[: len(url) - len(tail)]) + tail

    return _URL_IN_TEXT.sub(one, text)


def _netloc(parts: SplitResult) -> str:
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}@{host}" if colon else f"{userinfo}@{host}" if user else f"{MASK}@{host}"


def _query(query: str) -> str:
    # Keys say what was sent (token, starttls, timeout); values may be secrets: mask them all, except the
    # flags tongket itself reads, which the operator needs to see.
    def masked(match: re.Match[str]) -> str:
        key, eq, value = match.group("key", "eq", "value")
        if not eq:
            return key
        keep = key.lower() in ("starttls", "timeout", "ssl", "tls") and value.isalnum() and len(value) <= 5
        return f"{key}={value if keep else MASK}"

    return _QUERY_PAIR.sub(masked, query) if query else query


def _fragment(fragment: str) -> str:
    return MASK if fragment else fragment  # e.g. an OAuth implicit token #access_token=…


def _crude(url: str) -> str:
    # Not even parseable: mask everything between "://" and "@", and after "?".
    url = re.sub(r"(://)[^/@\s]*@", rf"\1{MASK}@", url)
    return re.sub(r"\?.*", f"?{MASK}", url)

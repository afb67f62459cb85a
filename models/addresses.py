"""Checking an address and a name when they are stored (recipients, schedule owners), so that nothing odd
reaches a header. The one email check of tongket."""

from __future__ import annotations

import re
import unicodedata

from tongket.models.errors import ConfigError

# The local part in plain ASCII (no SMTPUTF8 is assumed of the servers on the way); dots not doubled.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def valid_email(text: str) -> str:
    """The address in the form stored and sent (domain lower case, in IDNA); ConfigError if it is not one."""
    address = unicodedata.normalize("NFC", text.strip())
    local, at, domain = address.rpartition("@")
    if not at or not local or not _LOCAL.match(local) or len(local) > 64:
        raise ConfigError(f"not an email address: {text!r} (expected name@domain, ASCII before the @)")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ConfigError(f"not an email domain: {domain!r}") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ConfigError(f"not an email domain: {domain!r} (expected e.g. congan.lamdong.gov.vn)")
    result = f"{local}@{ascii_domain}"
    if len(result) > 254:
        raise ConfigError(f"email address longer than 254 characters: {text!r}")
    return result


def valid_name(text: str) -> str:
    """A person's or office's name: NFC, one line, no control characters."""
    name = unicodedata.normalize("NFC", text.strip())
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise ConfigError(f"a name may not contain line breaks or control characters: {text!r}")
    if not name or len(name) > 200:
        raise ConfigError("a name must have 1 to 200 characters")
    return name

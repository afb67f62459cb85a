"""The one exceptions module: every error tongket raises on purpose derives from TongketError.

Transient errors are worth retrying (a server down, a timeout); the others are permanent and carry a message
a person can act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tables imports this module at run time
    from tongket.models.tables import RunState


class TongketError(Exception):
    """Base of tongket's own errors."""


class TransientError(TongketError):
    """Something outside us failed for now; the same work may succeed later."""


class SourceUnavailable(TransientError):
    """A commune's source could not be read for now (timeout, refused connection, server error)."""


class SourceBroken(TongketError):
    """A commune's source refuses us for good (e.g. 401/403, a bad URL) until someone fixes its settings."""


class BadPeriod(TongketError, ValueError):
    """A period id that cannot be parsed or used."""


class UnknownUnit(TongketError, LookupError):
    """A unit code that is not in the database."""


class ConfigError(TongketError):
    """A setting or a row of configuration that cannot work."""


class RunExists(TongketError):
    """A run for this scope, kind and period exists already."""

    def __init__(self, run_id: int, state: RunState) -> None:
        super().__init__(f"run {run_id} exists for this report (state: {state}); use --force for a new one")
        self.run_id, self.state = run_id, state


class RunRefused(TongketError):
    """A report nobody should get: the message says why, and what to ask for instead."""


class DeliveryFailed(TongketError):
    """The mail server refused a message for good."""


class OutcomeUnknown(TongketError):
    """The whole message went out but the server's answer never came (the connection dropped after the
    final dot, or the answer took longer than the timeout): the server may have accepted it."""


class MessageTooLarge(DeliveryFailed):
    """The mail server will not take a message this big (its SIZE, or a 552 5.3.4 answer)."""

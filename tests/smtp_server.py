"""A real SMTP server on loopback (aiosmtpd) whose answers a test controls: accept, answer 4xx or 5xx,
drop the connection, hang, or be down (the port closed) and come up again on the same port."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Inbox:
    """The handler: what the server answers to each DATA, and what it accepted."""

    accepted: list[Received] = field(default_factory=list)
    plan: deque[str] = field(default_factory=deque)  # answers to the next DATA commands; then "accept"
    ehlos: int = 0
    attempts: int = 0
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.ehlos += 1
        return responses

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            action = self.plan.popleft() if self.plan else "accept"
        if action == "hang":  # keep the client waiting for the answer to its message, then refuse it
            self.hanging.set()
            while not self.release.is_set():
                await _sleep(0.05)
            return "451 4.3.0 gave up waiting"
        if action == "drop":
            server.transport.close()
            return "421 4.3.0 closing"
        if action != "accept":
            return action
        with self.lock:
            self.accepted.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if address in r.rcpt_tos]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; accepted {len(self.accepted)}, attempts {self.attempts}")
            time.sleep(0.05)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """The server on a fixed loopback port, which a test can stop (refusing connections) and start."""

    def __init__(self, inbox: Inbox | None = None, port: int | None = None, **smtp_options: Any) -> None:
        self.inbox = inbox or Inbox()
        self.port = port or free_port()
        self.options = smtp_options
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.inbox.release.set()  # a hanging answer must not keep the loop from stopping
            self.controller.stop()
            self.controller = None
            self.inbox.release.clear()


def password_check(user: str, password: str) -> Callable[..., AuthResult]:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # a refusal gets the standard 535

    return authenticate

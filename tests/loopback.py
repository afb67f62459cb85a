"""A real HTTP server on loopback whose endpoints misbehave on purpose: slow, failing, flapping, garbage."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds before the answer
    content_type: str = "application/json"


Route = Callable[[int], Reply]  # the number of the call (1, 2, …) -> the reply


class Loopback:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.routes: dict[str, Route] = {}
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, path: str) -> Reply:
        with self.lock:
            self.calls[path] += 1
            count = self.calls[path]
        route = self.routes.get(path)
        return route(count) if route else Reply(404, b'{"error": "not found"}')


def _handler(loop: Callable[[], Loopback]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # else each body waits ~40 ms for a delayed ACK

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            reply = loop().reply(self.path)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to do

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def loopback_server() -> Iterator[Loopback]:
    holder: list[Loopback] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lambda: holder[0]))
    server.daemon_threads = True
    holder.append(Loopback(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_url() -> str:
    """A loopback URL where nothing listens: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"

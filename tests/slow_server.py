"""A loopback HTTP endpoint that answers at once and then drips its body one byte at a time, forever
(like a broken proxy or an attacker): each read succeeds, so only an overall deadline ends the fetch."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def dripping_server(every: float) -> Iterator[str]:
    """The URL of a server sending one byte of its body every `every` seconds until the client leaves."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(every)
            except OSError:
                pass  # the client gave up: what we want

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/24901/2023"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()

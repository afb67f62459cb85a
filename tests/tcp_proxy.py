"""A TCP proxy on loopback between tongket and a real SMTP server, that misbehaves where a real network or
mail server does: it drops the client's connection right after the final dot of a message (the server
has the message, the client never hears its 250), or holds the server's answer to the dot for a while (a
content scanner). It also serves as a network cut in front of PostgreSQL: `cut()` breaks every connection
and refuses new ones until `restore()`, which the shared database server itself never sees."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

END_OF_DATA = b"\r\n.\r\n"


@dataclass
class Faults:
    drop_after_dot: int = 0  # drop the client's connection after this many more final dots
    answer_delay: float = 0.0  # seconds the server's answer to a final dot is held back
    dots: int = 0  # final dots seen
    lock: threading.Lock = field(default_factory=threading.Lock)


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.faults = Faults()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.down = threading.Event()
        self.live: list[socket.socket] = []
        self.live_lock = threading.Lock()

    def cut(self) -> None:
        self.down.set()
        with self.live_lock:
            for sock in self.live:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.live.clear()

    def restore(self) -> None:
        self.down.clear()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down.is_set():
                client.close()  # as a host that cannot be reached
                continue
            threading.Thread(target=self._pair, args=(client,), daemon=True).start()

    def _pair(self, client: socket.socket) -> None:
        server = socket.create_connection(self.target)
        with self.live_lock:
            self.live += [client, server]
        after_dot = threading.Event()  # the server's next answer is the one to the final dot
        muted = threading.Event()  # the client is being cut off: nothing more reaches it

        def upstream() -> None:  # client -> server, watching for the end of a message
            tail = b""
            try:
                while chunk := client.recv(65536):
                    server.sendall(chunk)
                    if END_OF_DATA in tail + chunk:
                        with self.faults.lock:
                            self.faults.dots += 1
                            drop = self.faults.drop_after_dot > 0
                            self.faults.drop_after_dot -= int(drop)
                        if drop:
                            muted.set()
                            time.sleep(0.2)  # the server has the whole message and queues it
                            client.shutdown(socket.SHUT_RDWR)
                            client.close()
                            return
                        after_dot.set()
                    tail = (tail + chunk)[-4:]
            except OSError:
                pass
            finally:
                server.close()

        def downstream() -> None:  # server -> client, holding the answer to a final dot if asked
            try:
                while chunk := server.recv(65536):
                    if muted.is_set():
                        return
                    if after_dot.is_set():
                        after_dot.clear()
                        time.sleep(self.faults.answer_delay)
                    client.sendall(chunk)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=upstream, daemon=True).start()
        threading.Thread(target=downstream, daemon=True).start()


@contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_port)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.stop.set()
        thread.join(timeout=5)
        proxy.listener.close()

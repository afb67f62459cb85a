"""A Redis database of this test session's own on a shared server, so that suites run side by side.

The session claims one of databases 1..15 with a lease key (renewed while it runs, gone a minute after
a crash) and takes only a database that is empty, so it never touches keys it did not create. The
exception is a database the suite itself filled and then abandoned (its marker is there, its lease has
expired): a crashed session's leftovers, taken back and emptied. Database 0, where a service keeps its
data by default, is never used.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass, field

import redis
from redis.client import Redis
from redis.connection import parse_url

LEASE = "tongket-test:lease"  # held by the running session, with an expiry it keeps renewing
OWNED = "tongket-test:owned"  # stays after a crash: marks a database the suite filled itself
TTL = 60  # seconds a lease outlives a session that died without releasing it
DATABASES = range(1, 16)

# Atomic, so no other client can write between the look and the claim.
# 1: an empty database claimed; 2: a crashed session's database claimed (the caller empties it); 0: taken.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local size = redis.call('DBSIZE')
if size ~= 0 and redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], '1')
if size == 0 then return 1 end
return 2
"""


def server_url(url: str) -> str:
    """The server part of a Redis URL: a database number in it is ignored, the session claims its own."""
    options = parse_url(url)
    scheme = "rediss" if url.startswith("rediss:") else "redis"
    auth = ""
    if options.get("password"):
        auth = f"{options.get('username') or ''}:{options['password']}@"
    return f"{scheme}://{auth}{options.get('host', '127.0.0.1')}:{options.get('port', 6379)}"


@dataclass
class Claim:
    """One claimed database: its URL, the lease token, and the thread that keeps the lease alive."""

    url: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self) -> Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=5)

    def empty(self) -> None:
        """Delete everything in the database but keep it claimed, in one transaction (no gap to steal)."""
        with self.client() as client, client.pipeline(transaction=True) as pipe:
            pipe.flushdb().set(LEASE, self.token, ex=TTL).set(OWNED, "1").execute()

    def keep(self) -> None:
        with self.client() as client:
            while not self.stop.wait(TTL / 4):
                # A blink of the server costs nothing: the next renewal comes in 15 s, long before expiry.
                with contextlib.suppress(redis.RedisError):
                    client.set(LEASE, self.token, ex=TTL)

    def release(self) -> None:
        """Empty the database and give it back (only if the lease is still this session's)."""
        self.stop.set()
        with self.client() as client:
            if client.get(LEASE) == self.token.encode():
                client.flushdb()


_claims: dict[str, Claim] = {}


def claim(server: str, databases: range = DATABASES) -> Claim:
    """Claim a free database on the server; raises redis.ConnectionError when it is not reachable."""
    token = secrets.token_hex(8)
    for number in databases:
        url = f"{server}/{number}"
        with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
            got = client.eval(_CLAIM, 2, LEASE, OWNED, token, TTL)
        if got:
            held = Claim(url, token)
            if got == 2:
                held.empty()
            threading.Thread(target=held.keep, name=f"redis-lease-{number}", daemon=True).start()
            _claims[url] = held
            return held
    raise RuntimeError(f"no free Redis database on {server} in {databases}: all hold keys or leases")


def empty(url: str) -> None:
    """Empty this session's database (a test that starts from nothing, or loses Redis's data on purpose)."""
    _claims[url].empty()

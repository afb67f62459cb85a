"""What keeps two test sessions on one machine apart: the Redis claim never takes a database that holds
keys it did not create, and a session's PostgreSQL databases carry its name."""

from __future__ import annotations

import redis

from tests import redis_db
from tests.conftest import REDIS_SERVER, SESSION


def test_a_database_with_keys_of_someone_else_is_never_claimed(redis_url: str) -> None:
    number = int(redis_url.rsplit("/", 1)[1])
    only_ours = range(number, number + 1)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set("someone-else:key", "theirs")
        client.delete(redis_db.LEASE, redis_db.OWNED)  # as if another program had written here
        try:
            redis_db.claim(REDIS_SERVER, only_ours)
            raise AssertionError("claimed a database holding another program's key")
        except RuntimeError as exc:
            assert "all hold keys or leases" in str(exc)
        assert client.get("someone-else:key") == b"theirs"  # and left it alone
    finally:
        redis_db.empty(redis_url)  # the key was this test's own; the session's lease is back


def test_a_leased_database_is_not_claimed_twice_and_an_abandoned_one_is_taken_back(redis_url: str) -> None:
    number = int(redis_url.rsplit("/", 1)[1])
    only_ours = range(number, number + 1)
    client = redis.Redis.from_url(redis_url)
    session_claim = redis_db._claims[redis_url]  # noqa: SLF001 (given back to the session at the end)
    try:
        client.set("left:by-a-crash", "1")
        try:
            redis_db.claim(REDIS_SERVER, only_ours)
            raise AssertionError("claimed a database another session holds")
        except RuntimeError:
            pass
        client.delete(redis_db.LEASE)  # the session died: its lease ran out, its marker stayed
        taken = redis_db.claim(REDIS_SERVER, only_ours)
        taken.stop.set()
        assert taken.url == redis_url
        assert client.get("left:by-a-crash") is None and client.get(redis_db.LEASE) == taken.token.encode()
    finally:
        redis_db._claims[redis_url] = session_claim  # noqa: SLF001
        session_claim.empty()  # the session's own lease back in its database


def test_postgres_databases_carry_the_session_name(pg_url: str, pg_template: str) -> None:
    assert pg_url.rsplit("/", 1)[1].startswith(f"tongket_test_{SESSION}_")
    assert pg_template == f"tongket_test_{SESSION}_0"

"""bench/aggregate times where the server's time goes by explaining the statements `aggregate()` ran. They must
be explained where they ran: the country case crashed after timing when they were re-run on a new connection,
without the temporary table and the settings (SET LOCAL) of the call's transaction."""

from __future__ import annotations

from sqlalchemy import text

from bench import aggregate as bench
from tongket.models.db import session_scope


def test_each_statement_is_explained_in_the_transaction_it_ran_in(pg_url: str) -> None:
    def call() -> int | None:
        with session_scope(pg_url) as session:
            session.execute(text("CREATE TEMPORARY TABLE bench_probe (n integer) ON COMMIT DROP"))
            session.execute(text("INSERT INTO bench_probe VALUES (1), (2), (3)"))
            session.execute(text("SET LOCAL work_mem = '77MB'"))
            return session.scalar(text("SELECT sum(n) FROM bench_probe WHERE n > :low"), {"low": 1})

    server, plans = bench._server_time(pg_url, call)

    assert len(plans) == 1 and "bench_probe" in plans[0]  # explained, the temporary table there
    assert server is not None and server >= 0
    assert call() == 5  # the explaining left the call's own statements alone

"""Issue 11, item 4: an endpoint dripping one byte at a time cannot hold a worker past the fetch's overall
deadline, although every single read arrives within the read timeout."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.slow_server import dripping_server
from tongket.models.errors import SourceUnavailable
from tongket.worker.collect.http_source import HttpLimits, fetch


def test_a_dripping_endpoint_is_given_up_at_the_overall_deadline() -> None:
    limits = HttpLimits(connect_timeout=1.0, read_timeout=1.0, total_timeout=2.0)
    with dripping_server(every=0.2) as url, httpx.Client() as client:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="overall deadline"):
            fetch(url, limits, client=client)
        took = time.monotonic() - started
    # The deadline plus at most one read timeout; without it the fetch would run until the 100 kB body ends
    # (over five hours at this pace).
    assert 2.0 <= took < 2.0 + limits.read_timeout + 0.5

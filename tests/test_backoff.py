"""The one backoff every retry uses: doubling from the first delay, capped, jittered downwards only."""

from __future__ import annotations

import random

import pytest

from tongket.worker.backoff import backoff


def test_doubles_from_the_first_delay_up_to_the_cap() -> None:
    assert [backoff(n, 30, 300) for n in range(6)] == [30, 60, 120, 240, 300, 300]


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    assert backoff(10_000, 0.5, 300) == 300


def test_a_negative_attempt_counts_as_the_first() -> None:
    assert backoff(-3, 15, 300) == 15


@pytest.mark.parametrize("attempt", [0, 3, 9])
def test_jitter_only_shortens_the_delay_and_by_at_most_its_share(attempt: int) -> None:
    plain = backoff(attempt, 15, 300)
    waits = [backoff(attempt, 15, 300, jitter=0.2) for _ in range(500)]
    assert all(0.8 * plain <= w <= plain for w in waits)
    assert len(set(waits)) > 400  # spread out, so waiters held by one outage come back at different times


def test_jitter_draws_from_the_random_module() -> None:
    random.seed(7)
    first = backoff(2, 15, 300, jitter=0.2)
    random.seed(7)
    assert backoff(2, 15, 300, jitter=0.2) == first == 60 * random.Random(7).uniform(0.8, 1.0)

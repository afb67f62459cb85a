"""One backoff for every retry in tongket: collecting a unit, sending an email, rendering, re-driving a run.

Each caller keeps its own numbers (first delay, cap, jitter); the shape is the same everywhere.
"""

from __future__ import annotations

import math
import random

# 2**62 times any sensible first delay is far past every cap; the bound keeps huge attempt counts finite.
_MAX_EXPONENT = 62


def backoff(attempt: int, initial: float, maximum: float, jitter: float = 0.0) -> float:
    """Delay after `attempt` failed tries (0 = the first retry): `initial` doubling per attempt, capped at
    `maximum`, then scaled down by a random factor in [1 - jitter, 1] so that many waiters held by one
    outage do not all return at once."""
    delay = min(math.ldexp(initial, max(0, min(attempt, _MAX_EXPONENT))), maximum)  # initial * 2**attempt
    if jitter:
        return delay * random.uniform(1.0 - jitter, 1.0)
    return delay

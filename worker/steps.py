"""What a plain step hands back to the queue: the tasks to send once its transaction has committed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Next:
    task: str
    args: tuple[int | str, ...]

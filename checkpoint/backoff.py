"""Exponential backoff between retries: the one schedule every retry loop uses
(scanner reconnects, camera reopens, database writes, forwarding)."""

from __future__ import annotations


class Backoff:
    """``first``, twice that, four times ... up to ``cap`` seconds; ``reset``
    after a success starts again from ``first``."""

    def __init__(self, cap: float, first: float = 0.1) -> None:
        self.cap = max(cap, first)
        self.first = first
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first

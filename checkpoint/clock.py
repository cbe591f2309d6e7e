"""Clocks: where every timestamp in the agent comes from.

The live clock is monotonic (immune to NTP steps) but anchored to the wall
clock at start, so its values are POSIX seconds. The manual clock is moved by
replay so that recorded sessions decide exactly as they did live.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class LiveClock:
    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)


class ManualClock:
    """A clock that only moves when told to (replay and tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def set(self, t: float) -> None:
        with self._lock:
            if t > self._t:
                self._t = t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds


def to_utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)

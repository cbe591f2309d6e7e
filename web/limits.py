"""Login rate limiting: failures counted per (username, client address) in a sliding window."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        horizon = self._clock() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked(self, username: str, address: str) -> bool:
        with self._lock:
            return len(self._recent((username.lower(), address))) >= self.max_failures

    def failed(self, username: str, address: str) -> None:
        key = (username.lower(), address)
        with self._lock:
            self._recent(key)
            self._failures.setdefault(key, deque()).append(self._clock())
            if len(self._failures) > 10000:  # bound memory under a spray of names
                oldest = min(self._failures, key=lambda k: self._failures[k][-1])
                del self._failures[oldest]

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), address), None)

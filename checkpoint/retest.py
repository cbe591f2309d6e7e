"""Re-tests of high readings (KMK 382/2020: re-check after a 5-minute rest).

The gate cannot tell people apart, so re-tests are matched in order of
arrival: a first high reading books a re-test; the next plausible reading
taken after the rest (and within the window) is that re-test. A high re-test
is a confirmed fever; a normal one clears the booking. A guard can override
any decision on the screen.
"""

from __future__ import annotations

from collections import deque

from checkpoint.config import FeverRule


class RetestBook:
    def __init__(self, rule: FeverRule) -> None:
        self._rule = rule
        self._booked: deque[float] = deque()  # times of first high readings, oldest first

    def __len__(self) -> int:
        return len(self._booked)

    def _expire(self, t: float) -> None:
        while self._booked and t - self._booked[0] > self._rule.retest_window_s:
            self._booked.popleft()

    def rested(self, t: float) -> bool:
        """Is a booked re-test due (rested) at ``t``?"""
        self._expire(t)
        return any(t - booked >= self._rule.rest_s for booked in self._booked)

    def resting(self, t: float) -> bool:
        """Is someone still inside their rest at ``t``?"""
        self._expire(t)
        return any(t - booked < self._rule.rest_s for booked in self._booked)

    def consume(self, t: float) -> bool:
        """Take the oldest rested booking; False if none is due."""
        self._expire(t)
        for booked in self._booked:
            if t - booked >= self._rule.rest_s:
                self._booked.remove(booked)
                return True
        return False

    def book(self, t: float) -> None:
        self._expire(t)
        if not self.resting(t):
            self._booked.append(t)

"""Waiting for a condition that other threads change.

``threading.Condition.wait_for`` wakes only when the condition is notified;
the callers here also wait on state that changes without a notify (another
object's health, a device's frames), so the wait looks again every
``poll_s`` as well.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

POLL_S = 0.05


def wait_until(cond: threading.Condition, predicate: Callable[[], bool], timeout: float,
               poll_s: float = POLL_S) -> bool:
    """True once ``predicate()`` holds (checked under ``cond``), False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            cond.wait(min(left, poll_s))
        return True

"""Health of the agent's components (scanner, camera, database, ...).

Drivers and the recorder report events here; the agent publishes a snapshot
to the database for the screen's health panel. Each fault *episode* is logged
once (first failure), and recovery is logged once, as Home Assistant's serial
sensor does.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

OK = "ok"
DEGRADED = "degraded"
DOWN = "down"
UNKNOWN = "unknown"


def short_error(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error, for a health message or a log line."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:limit]


@dataclass
class ComponentHealth:
    name: str
    state: str = UNKNOWN
    message: str = ""
    last_ok_t: Optional[float] = None
    since_t: Optional[float] = None
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self, now: Optional[float] = None) -> dict:
        data = asdict(self)
        data["last_ok_age_s"] = (
            round(now - self.last_ok_t, 3) if now is not None and self.last_ok_t else None
        )
        return data


class ComponentReporter:
    """The handle one component uses to report its own health."""

    def __init__(self, registry: "HealthRegistry", name: str) -> None:
        self._registry = registry
        self.name = name
        self._log = logging.getLogger(f"checkpoint.health.{name}")

    def ok(self, t: float, message: str = "") -> None:
        self._registry._update(self.name, OK, message, t, self._log)

    def degraded(self, t: float, message: str) -> None:
        self._registry._update(self.name, DEGRADED, message, t, self._log)

    def down(self, t: float, message: str) -> None:
        self._registry._update(self.name, DOWN, message, t, self._log)

    def count(self, counter: str, n: int = 1) -> None:
        self._registry._count(self.name, counter, n)


class HealthRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._components: dict[str, ComponentHealth] = {}
        self._listeners: list[Callable[[ComponentHealth], None]] = []

    def reporter(self, name: str) -> ComponentReporter:
        with self._lock:
            self._components.setdefault(name, ComponentHealth(name))
        return ComponentReporter(self, name)

    def on_change(self, listener: Callable[[ComponentHealth], None]) -> None:
        self._listeners.append(listener)

    def get(self, name: str) -> ComponentHealth:
        with self._lock:
            c = self._components.setdefault(name, ComponentHealth(name))
            return ComponentHealth(c.name, c.state, c.message, c.last_ok_t, c.since_t, dict(c.counters))

    def snapshot(self, now: Optional[float] = None) -> dict[str, dict]:
        with self._lock:
            return {name: c.as_dict(now) for name, c in sorted(self._components.items())}

    def _count(self, name: str, counter: str, n: int) -> None:
        with self._lock:
            c = self._components.setdefault(name, ComponentHealth(name))
            c.counters[counter] = c.counters.get(counter, 0) + n

    def _update(self, name: str, state: str, message: str, t: float, log: logging.Logger) -> None:
        with self._lock:
            c = self._components.setdefault(name, ComponentHealth(name))
            changed = c.state != state
            if state == OK:
                c.last_ok_t = t
            if changed:
                c.since_t = t
            c.state = state
            c.message = message
            copy = ComponentHealth(c.name, c.state, c.message, c.last_ok_t, c.since_t, dict(c.counters))
        if changed:
            if state == OK:
                log.info("%s is ok%s", name, f": {message}" if message else "")
            elif state == DEGRADED:
                log.warning("%s degraded: %s", name, message)
            else:
                log.error("%s down: %s", name, message)
            for listener in list(self._listeners):
                listener(copy)

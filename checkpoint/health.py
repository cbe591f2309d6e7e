"""Health of the agent's components (scanner, camera, database, ...).

Drivers and the recorder report events here; the agent publishes a snapshot
to the database for the screen's health panel. Each fault *episode* is logged
once (first failure), and recovery is logged once, as Home Assistant's serial
sensor does.

The heartbeat row travels through the very database it reports on: when that
database is locked, full or gone, the row cannot be written and the screens
would show the last good one (or "silent"). So the agent also keeps its own
view in a small status file beside the journal, ``status-<gate>.json``
(``StatusFile``: replaced atomically by rename; on a full disk overwritten in
the blocks it already has), which a web app on the same machine reads
(``read_status_files``) in preference to an older heartbeat row.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

log = logging.getLogger(__name__)

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
    simulated: bool = False  # a software stand-in (checkpoint run --simulate): the screens say so

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

    def reporter(self, name: str, simulated: bool = False) -> ComponentReporter:
        with self._lock:
            self._components.setdefault(name, ComponentHealth(name)).simulated |= simulated
        return ComponentReporter(self, name)

    def on_change(self, listener: Callable[[ComponentHealth], None]) -> None:
        self._listeners.append(listener)

    def get(self, name: str) -> ComponentHealth:
        with self._lock:
            c = self._components.setdefault(name, ComponentHealth(name))
            return replace(c, counters=dict(c.counters))

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
            copy = replace(c, counters=dict(c.counters))
        if changed:
            if state == OK:
                log.info("%s is ok%s", name, f": {message}" if message else "")
            elif state == DEGRADED:
                log.warning("%s degraded: %s", name, message)
            else:
                log.error("%s down: %s", name, message)
            for listener in list(self._listeners):
                listener(copy)


# -- the agent's own view, beside the journal ------------------------------------

STATUS_BLOCK = 4096  # the file is padded to whole blocks, so it can be rewritten in place on a full disk


def status_path(data_dir: Path, gate_id: str) -> Path:
    return Path(data_dir) / f"status-{re.sub(r'[^A-Za-z0-9_.-]', '_', gate_id)}.json"


def status_document(gate_id: str, name: str, timezone_name: str, components: dict, backlog: int, capacity: int,
                    capacity_scope: str, database: str, now: float, started_at: Optional[float] = None) -> dict:
    """What the status file holds: the heartbeat's fields, the time as seconds
    since the epoch, and the database the agent writes to (password hidden)."""
    return {"gate_id": gate_id, "name": name, "timezone": timezone_name, "updated_at": now,
            "started_at": started_at, "components": components, "backlog": backlog, "capacity": capacity,
            "capacity_scope": capacity_scope, "database": database, "pid": os.getpid()}


def _signature(document: dict) -> str:
    components = {name: {k: v for k, v in c.items() if k not in ("last_ok_t", "last_ok_age_s")}
                  for name, c in (document.get("components") or {}).items() if isinstance(c, dict)}
    rest = {k: v for k, v in document.items() if k not in ("updated_at", "components")}
    return json.dumps([rest, components], sort_keys=True, default=str)


class StatusFile:
    """Writes the agent's status document, never raising (a failure is logged once).

    Rewritten when something shown changes, else every ``refresh_s`` (well
    under the screens' 10 s "silent" limit), so a gate box's disk is not
    written every second for nothing."""

    def __init__(self, path: Path, refresh_s: float = 4.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.refresh_s = refresh_s
        self._clock = clock
        self._last_signature: Optional[str] = None
        self._last_write = float("-inf")
        self._failing = False

    def write(self, document: dict) -> bool:
        signature = _signature(document)
        now = self._clock()
        if signature == self._last_signature and now - self._last_write < self.refresh_s:
            return True
        data = json.dumps(document, sort_keys=True, default=str).encode("utf-8")
        data += b" " * (-(len(data) + 1) % STATUS_BLOCK) + b"\n"
        try:
            self._replace(data)
        except OSError as exc:
            try:
                self._overwrite(data)  # a full disk has no block for a new file: reuse the old one's
            except OSError:
                if not self._failing:
                    log.error("status file %s cannot be written: %s", self.path, short_error(exc))
                    self._failing = True
                return False
        if self._failing:
            log.info("status file %s is written again", self.path)
            self._failing = False
        self._last_signature, self._last_write = signature, now
        return True

    def _replace(self, data: bytes) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, data, 0)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _overwrite(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY)
        try:
            size = os.fstat(fd).st_size
            if len(data) > size:
                raise OSError(f"the new status ({len(data)} bytes) does not fit the old file ({size} bytes)")
            _write_all(fd, data[:-1] + b" " * (size - len(data)) + b"\n", 0)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    written = 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)


def read_status_files(data_dir: Path) -> list[dict]:
    """The status documents of the agents writing into ``data_dir`` (unreadable ones skipped)."""
    documents = []
    try:
        paths = sorted(Path(data_dir).glob("status-*.json"))
    except OSError:
        return []
    for path in paths:
        for _attempt in range(2):  # an overwrite in place may be read half done: read again
            try:
                document = json.loads(path.read_bytes())
            except (OSError, ValueError):
                document = None
                continue
            break
        if isinstance(document, dict) and isinstance(document.get("gate_id"), str) \
                and isinstance(document.get("updated_at"), (int, float)):
            documents.append(document)
    return documents

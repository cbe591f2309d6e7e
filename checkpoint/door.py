"""The door: what a decision asks of it, and the worker that tells the relay.

``door_command(outcome, mode)`` is the pure rule (DESIGN §6): ``allowed``
opens, everything else keeps the door locked; the agent stores it on the
entry (``Entry.door``) before the recorder writes it. The :class:`DoorWorker`
carries it out on its own thread, fed by a queue, so a relay that is slow,
unplugged or silent never holds up a decision:

- ``pulse``: ``allowed`` closes the relay contact for ``open_s``, then opens
  it (another ``allowed`` meanwhile extends the pulse; a denial does not cut
  it short: the visitor before may still be in the doorway);
- ``hold``: ``allowed`` opens the door until a decision that is not
  ``allowed``, a guard's override to one, or a scanner or camera fault;
- a guard's override to ``allowed`` opens it as a decision would, for an
  entry this worker saw decided at most ``override_within_s`` before.

Every command is an :class:`Actuation` (entry uid, trigger, asked and done
times, whether the door is open after it, the error) in ``actuations`` and
one line of the agent's log. Health (the ``door`` component): ``ok`` while
the relay takes its commands, ``down`` with the driver's message when it
does not. The idle relay is told its state again every ``check_s``, so an
unplugged relay shows on the health panel before the next visitor; a failed
lock is retried with backoff until the relay takes it, a failed open is not
retried (a door opening minutes later, for nobody, is worse than a guard
letting the visitor in by hand).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Optional

from checkpoint.backoff import Backoff
from checkpoint.config import DoorConfig
from checkpoint.health import DOWN, ComponentReporter
from checkpoint.models import ALLOWED
from checkpoint.waiting import wait_until

log = logging.getLogger(__name__)

OPEN = "open"
LOCKED = "locked"
RECENT_MAX = 10000  # decisions remembered for overrides, at most
_STOP = object()


def door_command(outcome: str, mode: str) -> Optional[str]:
    """What the door does for a decision: ``open``, ``locked``, or None when it is not driven."""
    if mode == "off":
        return None
    return OPEN if outcome == ALLOWED else LOCKED


@dataclass(frozen=True)
class Actuation:
    entry_uid: str  # "" for the worker's own commands (start, stop, a device fault)
    trigger: str  # decision, override, fault, start, pulse_end, stop
    command: str  # open or locked
    asked_t: float
    done_t: float
    opened: bool  # the door is open after it
    error: str = ""


@dataclass(frozen=True)
class _Command:
    trigger: str
    entry_uid: str
    command: str
    t: float


class DoorWorker:
    def __init__(self, config: DoorConfig, relay, reporter: ComponentReporter,
                 clock: Callable[[], float] = time.time, history: int = 200) -> None:
        self.config, self.relay, self.reporter, self.clock = config, relay, reporter, clock
        self.actuations: deque[Actuation] = deque(maxlen=history)
        self._queue: "queue.Queue" = queue.Queue()
        self._cond = threading.Condition()
        self._recent: "OrderedDict[str, float]" = OrderedDict()  # entry uid -> decided at (this run)
        self._thread: Optional[threading.Thread] = None
        self._relay_open: Optional[bool] = None  # what the relay last took; None: unknown
        self._want_open = False
        self._open_for = ""  # the entry the door is open for
        self._pulse_end: Optional[float] = None  # monotonic
        self._failing = False
        self._retry_at = 0.0
        self._next_check = 0.0
        self._backoff = Backoff(config.reconnect_max_s)

    # -- any thread --------------------------------------------------------------

    def start(self) -> "DoorWorker":
        self._thread = threading.Thread(target=self._run, name="door", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Carry out what is queued, lock the door, let the relay go."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        self.relay.stop()

    def decided(self, entry_uid: str, outcome: str, t: float) -> None:
        """A decision (never blocks: the worker carries it out)."""
        command = door_command(outcome, self.config.mode)
        if command is not None:
            self._queue.put(_Command("decision", entry_uid, command, t))

    def overridden(self, entry_uid: str, outcome: str, t: float) -> None:
        """A guard's override, read from the log."""
        if self.config.mode != "off":
            self._queue.put(_Command("override", entry_uid, OPEN if outcome == ALLOWED else LOCKED, t))

    def sensor_health(self, state: str, t: float) -> None:
        """The scanner's or the camera's health changed: when one is down, a held door locks."""
        if self.config.mode == "hold" and state == DOWN:
            self._queue.put(_Command("fault", "", LOCKED, t))

    @property
    def state(self) -> str:
        """open, locked or unknown (the relay has not taken a command since it failed)."""
        with self._cond:
            return {True: OPEN, False: LOCKED, None: "unknown"}[self._relay_open]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
        return wait_until(self._cond, predicate, timeout)

    # -- the worker thread -----------------------------------------------------------

    def _run(self) -> None:
        self._actuate(_Command("start", "", LOCKED, self.clock()))
        while True:
            try:
                item = self._queue.get(timeout=self._wait_s())
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if item is not None:
                    self._handle(item)
                self._timers()
            except Exception:  # a bug must not end the door: log it, the next command tries again
                log.exception("door worker failed on %r", item)
        self._want_open, self._pulse_end = False, None
        self._actuate(_Command("stop", "", LOCKED, self.clock()))
        self.relay.disconnect()

    def _wait_s(self) -> float:
        now = time.monotonic()
        due = [self._next_check]
        if self._pulse_end is not None:
            due.append(self._pulse_end)
        if self._failing:
            due.append(self._retry_at)
        return max(0.0, min(due) - now)

    def _handle(self, command: _Command) -> None:
        if command.trigger == "decision":
            self._remember(command.entry_uid, command.t)
        elif command.trigger == "override":
            decided = self._recent.get(command.entry_uid)
            if decided is None or command.t - decided > self.config.override_within_s:
                log.info("door: override for entry %s not acted on (not decided here in the last %g s)",
                         command.entry_uid[:8], self.config.override_within_s)
                return
        if command.command == OPEN:
            self._want_open, self._open_for = True, command.entry_uid
            if self.config.mode == "pulse":
                self._pulse_end = time.monotonic() + self.config.open_s
            self._actuate(command)
        elif self.config.mode == "hold" and (self._want_open or self._relay_open is not False):
            self._want_open = False
            self._actuate(command)
        else:  # pulse: a running pulse ends on its own; the door is locked otherwise
            self._record(command, self._relay_open is True, "")
            log.info("door kept locked for entry %s (%s)", command.entry_uid[:8], command.trigger)

    def _timers(self) -> None:
        now = time.monotonic()
        if self._pulse_end is not None and now >= self._pulse_end:
            self._want_open, self._pulse_end = False, None
            self._actuate(_Command("pulse_end", self._open_for, LOCKED, self.clock()))
        elif self._failing and now >= self._retry_at:
            self._drive(self._want_open)  # a lock (or a held door) not yet taken: try again
        elif now >= self._next_check:
            self._drive(self._want_open)

    def _remember(self, uid: str, t: float) -> None:
        self._recent[uid] = t
        while self._recent and (len(self._recent) > RECENT_MAX
                                or t - next(iter(self._recent.values())) > self.config.override_within_s):
            self._recent.popitem(last=False)

    def _actuate(self, command: _Command) -> None:
        error = self._drive(command.command == OPEN)
        if error and command.command == OPEN:
            self._want_open, self._pulse_end = False, None  # not opened: never later, for nobody
        opened = self._relay_open is True
        self._record(command, opened, error)
        what = f"entry {command.entry_uid[:8]} ({command.trigger})" if command.entry_uid else command.trigger
        if command.command == OPEN and not error:
            log.info("door opened for %s, %s", what,
                     f"{self.config.open_s:g} s pulse" if self.config.mode == "pulse" else "held")
        elif command.command == OPEN:
            log.error("door NOT opened for %s: %s", what, error)
        elif error:
            log.error("door cannot be locked (%s): %s; retrying", what, error)
        elif command.trigger != "start":
            log.info("door locked (%s)", what)

    def _record(self, command: _Command, opened: bool, error: str) -> None:
        with self._cond:
            self.actuations.append(Actuation(command.entry_uid, command.trigger, command.command, command.t,
                                             self.clock(), opened, error))
            self._cond.notify_all()
        if command.command == OPEN:
            self.reporter.count("opened" if not error else "not_opened")

    def _drive(self, on: bool) -> str:
        """Tell the relay; returns "" or the fault's message (reported to health)."""
        self._next_check = time.monotonic() + self.config.check_s
        try:
            self.relay.connect()
            self.relay.set(on)
        except Exception as exc:
            kind, message = getattr(exc, "kind", "internal_errors"), getattr(exc, "message", str(exc))
            if kind == "internal_errors":
                log.exception("door relay driver failed")
            self.relay.disconnect()
            with self._cond:
                self._relay_open = None
                self._cond.notify_all()
            self._failing = True
            self._retry_at = time.monotonic() + self._backoff.next()
            self.reporter.count(kind)
            self.reporter.down(self.clock(), f"{message}; the relay keeps its last state")
            return message or kind
        with self._cond:
            self._relay_open = on
            self._cond.notify_all()
        self._failing = False
        self._backoff.reset()
        self.reporter.ok(self.clock(), f"open for entry {self._open_for[:8]}" if on else "locked")
        return ""

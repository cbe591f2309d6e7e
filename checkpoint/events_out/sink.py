"""A sink's delivery thread: the outbox's rows and the live events, in order, retried until delivered.

Each sink (MQTT, webhook) runs one thread of its own. A pass reads this
gate's new rows from the local log (:class:`~checkpoint.events_out.outbox.Outbox`),
then the live events (door actuations, health changes: kept in memory, at
most ``live_max``), hands them to the sink in that order and moves the
cursors over what it delivered. A sink that cannot deliver raises
:class:`Unavailable` with how many it did deliver first; the pass ends, the
component is ``down`` on the health panel with the events waiting, and the
next pass starts again from the first event not delivered, after a backoff.
The recorder's commits ``kick()`` the thread so an entry leaves at once; a
poll every ``poll_s`` picks up exits and overrides written by the web app.

Nothing here is called from the decision thread except ``kick()`` and
``live()``, which only set an event and append to a deque.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from typing import Callable, Optional

from sqlalchemy.exc import SQLAlchemyError

from checkpoint.backoff import Backoff
from checkpoint.events_out.outbox import Mark, Outbox
from checkpoint.events_out.payloads import Event
from checkpoint.health import ComponentReporter, short_error

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The destination did not take an event: the first ``delivered`` of the batch were delivered."""

    def __init__(self, message: str, delivered: int = 0, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.delivered = delivered
        self.retry_after = retry_after


class Sink:
    name = "sink"

    def __init__(self, outbox: Outbox, reporter: ComponentReporter, clock: Callable[[], float] = time.time,
                 poll_s: float = 0.5, retry_initial_s: float = 0.2, retry_max_s: float = 30.0,
                 live_max: int = 1000) -> None:
        self.outbox, self.reporter, self.clock = outbox, reporter, clock
        self.poll_s, self.retry_initial_s, self.retry_max_s = poll_s, retry_initial_s, retry_max_s
        self._live: deque[Event] = deque()
        self._live_max = live_max
        self._live_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle_cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self.delivered = 0  # events delivered by this process
        self.failed_attempts = 0
        self.live_dropped = 0
        self.failing = False  # the last pass failed (the destination down, or the log unreadable)

    # -- any thread ------------------------------------------------------------------

    def start(self) -> "Sink":
        self._thread = threading.Thread(target=self._run, name=f"events-{self.name}", daemon=True)
        self._thread.start()
        return self

    def kick(self) -> None:
        """New rows in the log: deliver them now rather than at the next poll."""
        self._wake.set()

    def live(self, event: Event) -> None:
        """An event that is not in the log (door, health): delivered after the log's, lost if the agent stops."""
        with self._live_lock:
            if len(self._live) >= self._live_max:
                self._live.popleft()
                self.live_dropped += 1
                self.reporter.count("live_dropped")
            self._live.append(event)
        self._wake.set()

    def pending(self) -> int:
        """Events not delivered yet: this gate's rows after the cursors and the live events."""
        with self._live_lock:
            live = len(self._live)
        try:
            return self.outbox.pending() + live
        except SQLAlchemyError:
            return live

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending (False after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                return False
            self._wake.set()
            with self._idle_cond:
                self._idle_cond.wait(min(remaining, 0.1))
        return True

    def stop(self, flush_timeout: float = 2.0) -> bool:
        """Deliver what is pending (up to ``flush_timeout``), then stop. What is left waits in the log."""
        # a destination that is failing gets no grace period: the agent's stop is not held up by it
        flushed = self.flush(flush_timeout) if flush_timeout > 0 and self._thread is not None \
            and not self.failing else self.pending() == 0
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.retry_max_s + 15)
        return flushed

    # -- the delivery thread ---------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self.retry_max_s, self.retry_initial_s)
        failing: Optional[str] = None
        while not self._stop.is_set():
            self._wake.clear()
            events: list[Event] = []
            try:
                self._ready()
                events, scanned = self.outbox.read()
                with self._live_lock:
                    live = list(self._live)[:self.outbox.batch]
                batch = events + live
                if batch:
                    try:
                        sent = self._send(batch)
                    except Unavailable as exc:
                        self._done(events, live, exc.delivered, scanned)
                        raise
                    self._done(events, live, sent, scanned)
                self._after_pass(bool(batch))
                self.outbox.save()
            except Unavailable as exc:
                self.failing = True
                self.failed_attempts += 1
                message = str(exc)
                if failing != message:
                    log.error("events out (%s): %s; events wait in the local log", self.name, message)
                    failing = message
                self.reporter.down(self.clock(), f"{message}; {self.pending()} events wait in the local log")
                self.reporter.count("errors")
                self._broken()
                self._stop.wait(exc.retry_after if exc.retry_after is not None else backoff.next())
                continue
            except SQLAlchemyError as exc:  # the log itself is busy or gone: not the destination's fault
                self.failing = True
                message = f"cannot read the local log: {short_error(exc)}"
                if failing != message:
                    log.warning("events out (%s): %s; retrying", self.name, message)
                    failing = message
                self.reporter.degraded(self.clock(), message)
                self._stop.wait(backoff.next())
                continue
            except Exception as exc:  # a bug: the thread must live and say so
                self.failing = True
                message = f"internal error: {short_error(exc)}"
                if failing != message:
                    log.error("events out (%s) failed: %s", self.name, "".join(traceback.format_exception(exc)))
                    failing = message
                self.reporter.down(self.clock(), message)
                self._broken()
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            self.failing = False
            if failing:
                log.info("events out (%s): delivering again", self.name)
                failing = None
            self.reporter.ok(self.clock(), self._ok_message())
            with self._idle_cond:
                self._idle_cond.notify_all()
            if len(events) >= self.outbox.batch:
                continue  # more waiting
            self._idle(self.poll_s)
        try:
            self.outbox.save(force=True)
        except SQLAlchemyError as exc:
            log.warning("events out (%s): cursor not saved at stop (%s): the last events are sent again at the "
                        "next start", self.name, short_error(exc))
        self._close()

    def _done(self, events: list[Event], live: list[Event], delivered: int, scanned: dict[str, Mark]) -> None:
        self.outbox.advance(events, min(delivered, len(events)), scanned)
        sent_live = {id(event) for event in live[:max(0, delivered - len(events))]}
        with self._live_lock:
            while self._live and id(self._live[0]) in sent_live:
                self._live.popleft()
        if delivered:
            self.delivered += delivered
            self.reporter.count("delivered", delivered)

    # -- what a sink provides ------------------------------------------------------------------

    def _ready(self) -> None:
        """Connect if need be (raise Unavailable when the destination cannot be reached)."""

    def _send(self, events: list[Event]) -> int:
        """Deliver ``events`` in order; return how many (all), or raise Unavailable(delivered=n)."""
        raise NotImplementedError

    def _after_pass(self, sent: bool) -> None:
        """After each successful pass (MQTT: the retained gate state)."""

    def _broken(self) -> None:
        """The destination failed: drop what the next pass must not reuse (a connection)."""

    def _close(self) -> None:
        """The thread is ending: say goodbye (MQTT: 'offline') and let go."""

    def _ok_message(self) -> str:
        return ""

    def _idle(self, seconds: float) -> None:
        self._wake.wait(seconds)

"""Server-sent events: one background poller per app fans new rows out to every open screen.

The poller checks the database every ~200 ms for new Entry, Override and Exit
ids and for meaningful GateStatus changes (component states, backlog, a gate
falling silent), and puts each event on every subscriber's bounded queue. A
subscriber that falls behind is dropped; its EventSource reconnects with
Last-Event-ID and gets what it missed from the database.

Each open stream holds a slot from subscribe() until its response is closed
(the client went away, or it was dropped and its stream ended). Slots are
capped per client address and in total, so open screens, or anyone opening
streams, can never take every request thread from the pages: a stream over
a cap is refused at once (StreamRefused: 429 for the address, 503 in total,
with Retry-After) instead of holding a thread.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, Optional

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from checkpoint.models import Entry, Exit, GateStatus, Override

log = logging.getLogger(__name__)
CLOSED = object()


@dataclass(frozen=True, order=True)
class Cursor:
    entry: int = 0
    override: int = 0
    exit: int = 0

    def token(self) -> str:
        return f"{self.entry}.{self.override}.{self.exit}"

    @classmethod
    def parse(cls, text: Optional[str]) -> Optional["Cursor"]:
        try:
            entry, override, exit_ = (int(part) for part in (text or "").split("."))
        except ValueError:
            return None
        return cls(entry, override, exit_)


@dataclass
class Event:
    kind: str  # entry, override, exit, status
    data: dict
    cursor: Cursor
    gate_id: Optional[str] = None

    def encode(self) -> str:
        return f"id: {self.cursor.token()}\nevent: {self.kind}\ndata: {json.dumps(self.data, sort_keys=True)}\n\n"


@dataclass(eq=False)
class Subscriber:
    queue: "queue.Queue" = field(default_factory=lambda: queue.Queue(256))
    dropped: bool = False
    address: Optional[str] = None  # the client's address, for the per-address cap
    released: bool = False  # its slot was given back


class StreamRefused(Exception):
    """A stream over a cap: ``status`` 429 (this address has too many) or 503 (the app has too many)."""

    def __init__(self, status: int, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


def entry_event(row, cursor: Cursor, replay: bool = False) -> Event:
    entry_id, uid, gate_id, outcome, flagged, primary_reason, decided_at = row
    data = {"id": entry_id, "uid": uid, "gate_id": gate_id, "outcome": outcome, "flagged": bool(flagged),
            "reason": primary_reason, "decided_at": decided_at.isoformat() if decided_at else None}
    if replay:
        data["replay"] = True
    return Event("entry", data, cursor, gate_id)


# Several agents forwarding into one PostgreSQL log can commit a lower id after a
# higher one was read: the poller looks this many ids behind its cursor for them.
LATE_WINDOW = 100

ENTRY_COLUMNS = (col(Entry.id), col(Entry.uid), col(Entry.gate_id), col(Entry.outcome), col(Entry.flagged),
                 col(Entry.primary_reason), col(Entry.decided_at))


class Broker:
    def __init__(self, engine: Engine, poll_s: float = 0.2, queue_size: int = 256, silent_after_s: float = 10.0,
                 clock: Callable[[], float] = time.time, max_streams: Optional[int] = None,
                 max_per_address: Optional[int] = None,
                 retry_after_s: int = 30) -> None:
        self._engine = engine
        self.poll_s = poll_s
        self.queue_size = queue_size
        self.silent_after_s = silent_after_s
        self.max_streams = max_streams  # None: no cap (0 refuses every stream)
        self.max_per_address = max_per_address  # None: no cap
        self.retry_after_s = retry_after_s
        self._open = 0  # slots held (open streams)
        self._per_address: dict[str, int] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._targets: list[Subscriber] = []
        self._cursor: Optional[Cursor] = None
        self._status: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._failing = False
        self._seen_entries: set[int] = set()  # published ids within LATE_WINDOW of the cursor
        self.polls = 0

    # -- subscribers ---------------------------------------------------------

    def subscribe(self, address: Optional[str] = None) -> tuple[Subscriber, Cursor]:
        """Register a subscriber and take its slot; returns it with the cursor its live events start after.

        Raises StreamRefused when ``address`` already holds ``max_per_address`` streams (429) or the app
        holds ``max_streams`` (503). Give the slot back with unsubscribe() when the stream ends."""
        with self._lock:  # refuse before any database work
            self._check_caps(address)
        self._ensure_started()
        subscriber = Subscriber(queue.Queue(self.queue_size), address=address)
        with self._lock:
            cursor = self._cursor  # set by _ensure_started; still None only when the broker was stopping
            if self._stop.is_set() or cursor is None:
                raise StreamRefused(503, "the live screen service is stopping", self.retry_after_s)
            self._check_caps(address)
            self._open += 1
            if address is not None:
                self._per_address[address] = self._per_address.get(address, 0) + 1
            self._subscribers.add(subscriber)
            return subscriber, cursor

    def _check_caps(self, address: Optional[str]) -> None:
        if (address is not None and self.max_per_address is not None
                and self._per_address.get(address, 0) >= self.max_per_address):
            raise StreamRefused(429, f"too many live screens from this address (at most {self.max_per_address}); "
                                     f"try again later", self.retry_after_s)
        if self.max_streams is not None and self._open >= self.max_streams:
            raise StreamRefused(503, f"too many live screens are open (at most {self.max_streams}); "
                                     f"try again later", self.retry_after_s)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """The stream ended: stop its events and give its slot back (safe to call more than once)."""
        with self._lock:
            self._subscribers.discard(subscriber)
            if subscriber.released:
                return
            subscriber.released = True
            self._open -= 1
            if subscriber.address is not None:
                left = self._per_address.get(subscriber.address, 0) - 1
                if left > 0:
                    self._per_address[subscriber.address] = left
                else:
                    self._per_address.pop(subscriber.address, None)

    def _drop(self, subscriber: Subscriber) -> None:
        """Stop sending to a subscriber that fell behind; it keeps its slot until its stream ends."""
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        """Subscribers receiving events."""
        with self._lock:
            return len(self._subscribers)

    @property
    def open_streams(self) -> int:
        """Slots held: streams not yet closed (a dropped one holds its slot until its response ends)."""
        with self._lock:
            return self._open

    def streams_from(self, address: str) -> int:
        with self._lock:
            return self._per_address.get(address, 0)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            subscribers, self._subscribers = list(self._subscribers), set()
        for subscriber in subscribers:
            _force_put(subscriber.queue, CLOSED)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    # -- the poller ------------------------------------------------------------

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            with Session(self._engine) as session:
                self._cursor = self._max_cursor(session)
                ids = session.exec(select(col(Entry.id)).where(col(Entry.id) > self._cursor.entry - LATE_WINDOW))
                self._seen_entries = {i for i in ids if i is not None}  # primary keys: never None
            self._thread = threading.Thread(target=self._run, name="sse-poller", daemon=True)
            self._thread.start()

    @staticmethod
    def _max_cursor(session: Session) -> Cursor:
        def top(column) -> int:
            return session.exec(select(func.max(column))).one() or 0

        return Cursor(top(Entry.id), top(Override.id), top(Exit.id))

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self._publish(self.poll_once())
                if self._failing:
                    log.info("event poller reads the database again")
                    self._failing = False
            except SQLAlchemyError as exc:
                if not self._failing:
                    log.error("event poller cannot read the database: %s", str(exc).splitlines()[0][:200])
                    self._failing = True
            except Exception:  # a malformed row must not stop live updates for every screen
                log.exception("event poller failed on this poll; it goes on")

    def poll_once(self) -> list[Event]:
        """Read what changed since the last poll and advance the cursor."""
        events: list[Event] = []
        with Session(self._engine) as session:
            cursor = self._cursor or Cursor()
            # execute: Session.exec runs a SQLAlchemy select the same way, but its types take SQLModel's
            # select only, which types up to four columns
            entries = session.execute(sa_select(*ENTRY_COLUMNS).where(col(Entry.id) > cursor.entry - LATE_WINDOW)
                                      .order_by(col(Entry.id)).limit(500 + LATE_WINDOW)).all()
            overrides = session.exec(select(col(Override.id), col(Override.entry_uid), col(Override.gate_id),
                                            col(Override.outcome))
                                     .where(col(Override.id) > cursor.override).order_by(col(Override.id))
                                     .limit(500)).all()
            exits = session.exec(select(col(Exit.id), col(Exit.gate_id)).where(col(Exit.id) > cursor.exit)
                                 .order_by(col(Exit.id)).limit(500)).all()
            statuses = session.exec(select(GateStatus)).all()
        for row in entries:
            if row[0] in self._seen_entries:
                continue
            if row[0] > cursor.entry:  # else a late commit: published now, the cursor never goes back
                cursor = Cursor(row[0], cursor.override, cursor.exit)
            self._seen_entries.add(row[0])
            events.append(entry_event(row, cursor))
        self._seen_entries = {i for i in self._seen_entries if i > cursor.entry - LATE_WINDOW}
        for override_id, entry_uid, gate_id, outcome in overrides:
            assert override_id is not None  # a primary key
            cursor = Cursor(cursor.entry, override_id, cursor.exit)
            events.append(Event("override", {"id": override_id, "entry_uid": entry_uid, "gate_id": gate_id,
                                             "outcome": outcome}, cursor, gate_id))
        for exit_id, gate_id in exits:
            assert exit_id is not None  # a primary key
            cursor = Cursor(cursor.entry, cursor.override, exit_id)
            events.append(Event("exit", {"id": exit_id, "gate_id": gate_id}, cursor, gate_id))
        events.extend(self._status_changes(statuses, cursor))
        with self._lock:  # a subscriber registered from now on starts after these events
            self._cursor = cursor
            self._targets = list(self._subscribers)
        self.polls += 1
        return events

    def _status_changes(self, statuses, cursor: Cursor) -> list[Event]:
        now = self._clock()
        events = []
        for status in statuses:
            signature = _signature(status, now, self.silent_after_s)
            if self._status.get(status.gate_id) != signature:
                self._status[status.gate_id] = signature
                events.append(Event("status", {"gate_id": status.gate_id, "silent": signature[-1],
                                               "backlog": status.backlog}, cursor, status.gate_id))
        return events

    def _publish(self, events: list[Event]) -> None:
        if not events:
            return
        for subscriber in self._targets:
            for event in events:
                try:
                    subscriber.queue.put_nowait(event)
                except queue.Full:
                    subscriber.dropped = True
                    self._drop(subscriber)
                    _force_put(subscriber.queue, CLOSED)
                    break

    # -- catching up after a reconnect ------------------------------------------

    def missed(self, since: Cursor, until: Cursor, limit: int = 50) -> list[Event]:
        """Events between two cursors, read from the database (the newest ``limit`` entries)."""
        events: list[Event] = []
        with Session(self._engine) as session:
            if until.entry > since.entry:
                rows = session.execute(sa_select(*ENTRY_COLUMNS)
                                       .where(col(Entry.id) > since.entry, col(Entry.id) <= until.entry)
                                       .order_by(col(Entry.id).desc()).limit(limit)).all()
                events += [entry_event(row, Cursor(row[0], since.override, since.exit), replay=True)
                           for row in reversed(rows)]
        if until.override > since.override or until.exit > since.exit:
            events.append(Event("override" if until.override > since.override else "exit",
                                {"replay": True}, until))
        elif events:
            events[-1].cursor = until
        return events


def _signature(status: GateStatus, now: float, silent_after_s: float) -> tuple:
    try:
        components = json.loads(status.components or "{}")
    except ValueError:
        components = {}
    states = tuple(sorted((name, c.get("state"), c.get("message"), json.dumps(c.get("counters"), sort_keys=True))
                          for name, c in components.items() if isinstance(c, dict)))
    updated = status.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=timezone.utc)
    silent = now - updated.timestamp() > silent_after_s
    return states, status.backlog, status.capacity, silent


def _force_put(target: "queue.Queue", item) -> None:
    while True:
        try:
            target.put_nowait(item)
            return
        except queue.Full:
            try:
                target.get_nowait()
            except queue.Empty:
                pass


def stream(broker: Broker, last_event_id: Optional[str], gate: Optional[str], heartbeat_s: float,
           retry_ms: int = 2000, subscription: Optional[tuple[Subscriber, Cursor]] = None,
           tick: bool = False) -> Iterator[str]:
    """The text of one client's event stream (used as a streamed response body).

    ``subscription`` is what broker.subscribe() returned when the caller took the slot before answering
    (so a refusal can be an HTTP status); without it the stream subscribes when it starts. With ``tick`` the
    heartbeat is a ``tick`` event carrying the server's time instead of a comment, so a client can tell a
    quiet stream from a dead one (comments never reach an EventSource's listeners)."""
    subscriber, live_from = subscription or broker.subscribe()
    try:
        yield f"retry: {retry_ms}\n: connected {datetime.now(timezone.utc).isoformat()}\n\n"
        since = Cursor.parse(last_event_id)
        if since is not None and since != live_from:
            for event in broker.missed(since, live_from):
                if gate is None or event.gate_id in (None, gate):
                    yield event.encode()
        wrote = time.monotonic()
        while True:
            try:  # a heartbeat after heartbeat_s without a write, also while only other gates' events arrive
                event = subscriber.queue.get(timeout=max(heartbeat_s - (time.monotonic() - wrote), 0.001))
            except queue.Empty:
                wrote = time.monotonic()
                if tick:
                    yield f"event: tick\ndata: {json.dumps({'t': round(time.time(), 3)})}\n\n"
                else:
                    yield ": heartbeat\n\n"
                continue
            if event is CLOSED:
                return
            if gate is None or event.gate_id in (None, gate):
                wrote = time.monotonic()
                yield event.encode()
    finally:
        broker.unsubscribe(subscriber)

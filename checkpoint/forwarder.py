"""Store-and-forward: the local log is the outbox, the central database the destination.

The recorder commits every entry (and exit) to the gate's own SQLite first.
The forwarder copies rows whose ``forwarded_at`` is NULL to the central
database, oldest first, in batches:

1. read up to ``batch`` unforwarded rows, ordered by local id;
2. insert them centrally in one transaction with ``ON CONFLICT (uid) DO
   NOTHING`` and commit;
3. set ``forwarded_at`` on them locally, in one transaction.

A crash between 2 and 3 sends the same rows again on the next pass; the
conflict clause ignores them, so nothing is lost and nothing is doubled. Rows
are copied without the local ``id`` (the central database numbers its own) and
without ``forwarded_at``. While the central database is unreachable rows wait
in the outbox (``pending()``), the ``central`` component is down (logged once
per episode) and connection attempts back off up to ``retry_max_s``. The
recorder's commit listener calls ``kick()`` so a new entry leaves at once; a
poll every ``poll_s`` is the fallback. The newest heartbeat handed to
``publish_status`` is upserted into the central ``gate_status`` table.

A central database that stalls (a table lock held, a proxy or network that
takes the bytes and forwards nothing) must not look healthy while the outbox
grows. Connections open within ``connect_timeout_s``; every statement carries
a server-side ``statement_timeout`` (a lock wait included), so a lock ends in
an error and a retry. A watchdog shows ``central`` degraded ("slow") once a
central call has had no answer for ``slow_s``, and down, with the call's
connections cut so the forwarder retries, once it has had none for the
statement timeout plus the connect timeout (the server would have cancelled
it by then: the network is swallowing it).

The forwarder never migrates a central PostgreSQL database: it logs in with
the gate role (checkpoint/roles.py: insert entries, exits, overrides and
heartbeats, read what occupancy needs, nothing on accounts), which cannot
change the schema. It checks the schema revision instead; until the owner has
run ``checkpoint init-db``, ``central`` is down with that instruction and rows
wait in the outbox. A SQLite file as the centre (tests) is migrated, as every
SQLite file is by its opener.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import weakref
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from checkpoint.backoff import Backoff
from checkpoint.central import (  # noqa: F401  (re-exported: checkpoint.forwarder.X still works)
    CONNECT_TIMEOUT_S,
    SLOW_S,
    STATEMENT_TIMEOUT_S,
    WATCH_S,
    CentralLink,
    _cut,
    _insert,
    central_engine,
)
from checkpoint.counts import occupancy, override_delta
from checkpoint.db import SchemaNotReady
from checkpoint.health import ComponentReporter, short_error
from checkpoint.models import ALLOWED, Entry, Exit, GateStatus, table_of
from checkpoint.redact import scrub

log = logging.getLogger(__name__)

FORWARDED: tuple[Table, ...] = (table_of(Entry), table_of(Exit))  # overrides are written centrally by the web app
NOT_COPIED = ("id", "forwarded_at")
CLOCK_SKEW_S = 5.0  # a gate clock further off the central server's than this is shown on the health panel


class Forwarder(CentralLink):
    """The forwarding thread; the central engine, its schema check and the watchdog are in
    checkpoint/central.py."""

    def __init__(self, local_engine: Engine, central_url: str, reporter: ComponentReporter,
                 clock: Callable[[], float] = time.time, batch: int = 200, retry_max_s: float = 5.0,
                 poll_s: float = 0.5, retry_initial_s: float = 0.2, connect_timeout_s: int = CONNECT_TIMEOUT_S,
                 statement_timeout_s: float = STATEMENT_TIMEOUT_S, slow_s: float = SLOW_S) -> None:
        if make_url(central_url) == local_engine.url:
            raise ValueError("the central database is the local one: nothing to forward to")
        self._local = local_engine
        self._central_url = central_url
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_s = statement_timeout_s
        self._slow_s = slow_s
        self._stalled_s = statement_timeout_s + connect_timeout_s  # no answer by then: the network swallows it
        self._calls: dict[int, list] = {}  # thread -> [started (monotonic), what, state reported]: central calls
        self._call_lock = threading.Lock()
        self._connections: "weakref.WeakSet" = weakref.WeakSet()  # the central engine's DBAPI connections
        self._central: Optional[Engine] = None
        self._reporter = reporter
        self._clock = clock
        self._batch = batch
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._poll_s = poll_s
        self._schema_checked = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status: Optional[dict] = None
        self._pending = 0
        self._thread: Optional[threading.Thread] = None
        self._idle = threading.Condition()
        self._settled = True  # False while a pass runs and its outcome is not reported yet
        self.forwarded = 0  # rows marked forwarded by this process
        self.passes = 0
        self.failed_attempts = 0
        self.reachable = False  # the last write to the central database succeeded (none failed since)
        self.clock_skew_s: Optional[float] = None  # this gate's clock minus the server's, at the last heartbeat
        self._engine_lock = threading.Lock()

    # -- the agent's side -------------------------------------------------------

    def start(self) -> "Forwarder":
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch, name="forwarder-watch", daemon=True).start()
        return self

    def stop(self, flush_timeout: float = 2.0) -> bool:
        """Deliver what is pending if the central database answers (up to ``flush_timeout``), then stop.

        Returns True if nothing was left in the outbox. What is left stays in
        the local log and leaves with the next start.
        """
        flushed = self.flush(flush_timeout) if flush_timeout > 0 else False
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._connect_timeout_s * 3 + 5)
        if self._central is not None:
            self._central.dispose()
        return flushed

    def kick(self) -> None:
        """New rows were committed locally: forward them now rather than at the next poll."""
        self._wake.set()

    def publish_status(self, status: GateStatus) -> None:
        """Replace the heartbeat to upsert centrally (only the newest matters)."""
        values = {column.name: getattr(status, column.name) for column in table_of(GateStatus).columns}
        with self._lock:
            self._status = values
        self._wake.set()

    def pending(self) -> int:
        """Rows in the local log not yet in the central one (entries and exits)."""
        try:
            with self._local.connect() as connection:
                count = sum(connection.execute(
                    select(func.count()).select_from(table).where(table.c.forwarded_at.is_(None))).scalar_one()
                    for table in FORWARDED)
        except SQLAlchemyError as exc:  # the local log is busy or gone: show the last count
            log.debug("cannot count the outbox: %s", exc)
            return self._pending
        self._pending = count
        return count

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the outbox is empty, the newest heartbeat is delivered and
        the pass that delivered them has put its outcome on the health panel."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                status_waiting = self._status is not None
            if not status_waiting and self.pending() == 0 and self._settled:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                return False
            self._wake.set()
            with self._idle:
                self._idle.wait(min(remaining, 0.1))

    # -- the forwarding thread ----------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self._retry_max_s, self._retry_initial_s)
        failing: bool | str = False  # or the "not ready" message last logged
        while not self._stop.is_set():
            self._wake.clear()
            self._settled = False  # flush() waits until this pass's outcome is on the health panel
            try:
                moved = self._pass()
            except _LocalError as exc:  # the outbox itself is busy (locked): not the central's fault
                self._settled = True
                log.warning("cannot read or mark the local outbox, will retry: %s", short_error(exc.__cause__ or exc))
                self._stop.wait(backoff.next())
                continue
            except SchemaNotReady as exc:  # reachable, but not migrated by its owner (or newer than this gate)
                self.failed_attempts += 1
                message = scrub(str(exc), self._central_url)
                if failing != message:
                    log.error("central database not ready, entries wait in the local outbox: %s", message)
                    failing = message
                self.reachable = False
                self._reporter.down(self._clock(), message)
                self._reporter.count("forward_errors")
                self._settled = True
                self._stop.wait(backoff.next())
                continue
            except Exception as exc:  # unreachable, or anything else: the thread must live and say so
                self.failed_attempts += 1
                message = scrub(short_error(exc), self._central_url)
                if failing is not True:  # not failing, or it was "not ready" until now
                    trace = "" if isinstance(exc, (SQLAlchemyError, OSError)) else "\n" + scrub(
                        "".join(traceback.format_exception(exc)), self._central_url)
                    log.error("central database unreachable, entries wait in the local outbox: %s%s", message, trace)
                    failing = True
                self.reachable = False
                self._reporter.down(self._clock(), f"central database unreachable: {message}")
                self._reporter.count("forward_errors")
                self._settled = True
                if self._central is not None:
                    self._central.dispose()  # fresh connections after the outage
                # kicks do not shorten the backoff: a busy gate would otherwise hammer a dead server
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            if failing:
                log.info("central database reachable again; outbox delivery resumed")
                failing = False
            self._report_reachable()
            self._settled = True
            with self._idle:
                self._idle.notify_all()
            if moved >= self._batch:
                continue  # more waiting: no pause between full batches
            self._wake.wait(self._poll_s)

    def occupancy(self, day: str, gate_id: Optional[str] = None) -> Optional[int]:
        """People inside: allowed entries minus exits in the central log, for
        one gate or (None) the whole building, overrides and exits entered on
        the central web app included, plus this gate's rows not forwarded yet
        and the overrides entered on its own screen (they stay in its log).
        None while the central database is unreachable (the caller keeps its
        own running count).

        The outbox is read first: a row forwarded between the two reads is
        counted twice for a moment rather than missed (the safer error for a
        crowd limit); the next refresh corrects it."""
        if not self.reachable:
            return None
        with Session(self._local) as session:
            # execute: Session.exec runs a SQLAlchemy select the same way, but its types take SQLModel's select only
            waiting_in = session.execute(select(func.count()).select_from(Entry).where(
                col(Entry.forwarded_at).is_(None), col(Entry.local_date) == day,
                col(Entry.outcome) == ALLOWED)).one()[0]
            waiting_out = session.execute(select(func.count()).select_from(Exit).where(
                col(Exit.forwarded_at).is_(None), col(Exit.local_date) == day)).one()[0]
            overridden_here = override_delta(session, day)
        with self._central_call("the occupancy read"), Session(self._engine()) as session:
            inside = occupancy(session, day, gate_id)
        return max(inside + waiting_in - waiting_out + overridden_here, 0)

    def _pass(self) -> int:
        """One round: a batch of each table, then the heartbeat. Returns the most rows moved from one table."""
        with self._central_call("connecting"):
            central = self._engine()
        moved = 0
        for table in FORWARDED:
            moved = max(moved, self._forward(central, table))
        with self._lock:
            status = self._status
        if status is not None:
            with self._central_call("the heartbeat"), central.begin() as connection:
                self._upsert_status(connection, status)
                self.clock_skew_s = self._clock_skew(connection)
            self.reachable = True
            with self._lock:
                if self._status is status:
                    self._status = None
        self.passes += 1
        return moved

    def _forward(self, central: Engine, table: Table) -> int:
        columns = [column for column in table.columns if column.name not in NOT_COPIED]
        try:
            with self._local.connect() as connection:
                rows = connection.execute(
                    select(table.c.id, *columns).where(table.c.forwarded_at.is_(None))
                    .order_by(table.c.id).limit(self._batch)).all()
        except SQLAlchemyError as exc:
            raise _LocalError() from exc
        if not rows:
            return 0
        ids = [row[0] for row in rows]
        values = [{column.name: value for column, value in zip(columns, row[1:])} for row in rows]
        insert = _insert(central.dialect.name)
        with self._central_call(f"a batch of {len(ids)} {table.name} rows"), central.begin() as connection:
            connection.execute(insert(table).on_conflict_do_nothing(index_elements=["uid"]), values)
        self.reachable = True
        # sent: a crash from here to the local commit re-sends these rows, which the conflict clause ignores
        stamp = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        try:
            with self._local.begin() as connection:
                connection.execute(update(table).where(table.c.id.in_(ids)).values(forwarded_at=stamp))
        except SQLAlchemyError as exc:
            raise _LocalError() from exc
        self.forwarded += len(ids)
        self._reporter.count("forwarded", len(ids))
        return len(ids)

    def _clock_skew(self, connection: Connection) -> Optional[float]:
        """This gate's clock minus the central PostgreSQL server's, in seconds (None for a SQLite centre)."""
        if connection.dialect.name != "postgresql":
            return None
        before = self._clock()
        server = connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        return round((before + self._clock()) / 2 - float(server), 3)

    def _report_reachable(self) -> None:
        """A pass went through: ok, or degraded while this gate's clock is off the server's (its entries,
        heartbeats and day boundaries carry the gate's time)."""
        skew = self.clock_skew_s
        if skew is not None and abs(skew) > CLOCK_SKEW_S:
            self._reporter.degraded(self._clock(), f"this gate's clock is {skew:+.0f} s off the central "
                                                   f"database's: turn on NTP (timedatectl set-ntp true)")
        else:
            self._reporter.ok(self._clock())

    @staticmethod
    def _upsert_status(connection: Connection, values: dict) -> None:
        table = table_of(GateStatus)
        insert = _insert(connection.dialect.name)
        statement = insert(table).values(values)
        changed = {name: statement.excluded[name] for name in values if name != "gate_id"}
        connection.execute(statement.on_conflict_do_update(index_elements=["gate_id"], set_=changed))


class _LocalError(Exception):
    """The local outbox could not be read or marked (the central database may be fine)."""

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
import socket
import threading
import time
import traceback
import weakref
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import Table, event, func, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from checkpoint.backoff import Backoff
from checkpoint.counts import occupancy, override_delta
from checkpoint.db import SchemaNotReady, check_schema, make_engine, migrate, owns_schema
from checkpoint.health import ComponentReporter, short_error
from checkpoint.models import ALLOWED, Entry, Exit, GateStatus
from checkpoint.redact import scrub

log = logging.getLogger(__name__)

FORWARDED: tuple[Table, ...] = (Entry.__table__, Exit.__table__)  # overrides are written centrally by the web app
NOT_COPIED = ("id", "forwarded_at")


CONNECT_TIMEOUT_S = 3  # defaults of database.central_connect_timeout_s, central_statement_timeout_s, central_slow_s
STATEMENT_TIMEOUT_S = 10.0
SLOW_S = 3.0
WATCH_S = 0.25  # how often the watchdog looks at the call in flight


def central_engine(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S,
                   statement_timeout_s: float = STATEMENT_TIMEOUT_S) -> Engine:
    """An engine for the central database that notices a dead, locked or stalled server quickly."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return make_engine(url)
    from sqlmodel import create_engine

    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args={
        "connect_timeout": connect_timeout_s,
        # server side: a statement (its lock waits included) that runs longer is cancelled with an error
        "options": f"-c statement_timeout={max(1, int(statement_timeout_s * 1000))}",
        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
        "tcp_user_timeout": connect_timeout_s * 3000,  # ms: unacknowledged writes fail instead of hanging
    })


def _cut(dbapi_connection) -> None:
    """Shut a DBAPI connection's socket down from another thread: a call blocked on it fails at once."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # closed already, or not a socket (SQLite)
        return
    try:
        with socket.socket(fileno=fd) as sock:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.detach()  # the fd stays the driver's, to close
    except OSError:
        pass


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"store-and-forward needs PostgreSQL or SQLite centrally, not {dialect}")
    return insert


class Forwarder:
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
        values = {column.name: getattr(status, column.name) for column in GateStatus.__table__.columns}
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
        failing = False
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
            self._reporter.ok(self._clock())
            self._settled = True
            with self._idle:
                self._idle.notify_all()
            if moved >= self._batch:
                continue  # more waiting: no pause between full batches
            self._wake.wait(self._poll_s)

    def _engine(self) -> Engine:
        with self._engine_lock:  # the forwarding thread and occupancy()'s caller
            if self._central is None:
                self._central = central_engine(self._central_url, self._connect_timeout_s, self._statement_timeout_s)
                if self._central.dialect.name == "postgresql":  # sockets the watchdog may have to cut
                    event.listen(self._central, "connect", lambda dbapi, _record: self._connections.add(dbapi))
            if not self._schema_checked:
                if owns_schema(self._central):
                    migrate(self._central)  # a SQLite file as the centre: its opener migrates it
                else:
                    check_schema(self._central, "central")  # the owner migrates (checkpoint init-db), never a gate
                self._schema_checked = True
            return self._central

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
            waiting_in = session.exec(select(func.count()).select_from(Entry).where(
                Entry.forwarded_at.is_(None), Entry.local_date == day, Entry.outcome == ALLOWED)).one()[0]
            waiting_out = session.exec(select(func.count()).select_from(Exit).where(
                Exit.forwarded_at.is_(None), Exit.local_date == day)).one()[0]
            overridden_here = override_delta(session, day)
        with self._central_call("the occupancy read"), Session(self._engine()) as session:
            inside = occupancy(session, day, gate_id)
        return max(inside + waiting_in - waiting_out + overridden_here, 0)

    # -- the watchdog: a central call with no answer ----------------------------------

    @contextmanager
    def _central_call(self, what: str):
        """Mark a call to the central database in flight (one per thread), for the watchdog."""
        me = threading.get_ident()
        with self._call_lock:
            self._calls[me] = [time.monotonic(), what, None]
        try:
            yield
        finally:
            with self._call_lock:
                self._calls.pop(me, None)

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_S):
            with self._call_lock:  # held while reporting: the call's own ok or error comes after, never before
                if not self._calls:
                    continue
                call = min(self._calls.values(), key=lambda c: c[0])  # the one waiting longest
                waited = time.monotonic() - call[0]
                if waited >= self._stalled_s and call[2] != "down":
                    call[2] = "down"
                    message = (f"central database not answering: {call[1]} had no answer for {waited:.0f} s; "
                               "connections cut, retrying; rows wait in the local outbox")
                    log.error("%s", message)
                    self.reachable = False
                    self._reporter.down(self._clock(), message)
                    self._reporter.count("stalls")
                    for connection in list(self._connections):
                        _cut(connection)
                elif self._slow_s <= waited < self._stalled_s:
                    if call[2] is None:
                        log.warning("central database slow: %s had no answer for %.0f s", call[1], waited)
                        self._reporter.count("slow_calls")
                    call[2] = "slow"
                    self._reporter.degraded(self._clock(), f"central slow: {call[1]} has had no answer for "
                                                           f"{waited:.0f} s; rows wait in the local outbox")

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

    @staticmethod
    def _upsert_status(connection: Connection, values: dict) -> None:
        table = GateStatus.__table__
        insert = _insert(connection.dialect.name)
        statement = insert(table).values(values)
        changed = {name: statement.excluded[name] for name in values if name != "gate_id"}
        connection.execute(statement.on_conflict_do_update(index_elements=["gate_id"], set_=changed))


class _LocalError(Exception):
    """The local outbox could not be read or marked (the central database may be fine)."""

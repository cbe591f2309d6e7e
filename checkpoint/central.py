"""The forwarder's link to the central database (checkpoint/forwarder.py).

Its engine (``central_engine``: connect and statement timeouts, keepalives),
the schema check made before the first call (a gate never migrates a central
PostgreSQL database), the dialect's ``INSERT ... ON CONFLICT``, and the
watchdog over the calls in flight: ``central`` degraded once a call has had no
answer for ``slow_s``, down with its connections cut once it has had none for
the statement timeout plus the connect timeout.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from checkpoint.db import check_schema, dialect_insert, make_engine, migrate, owns_schema

if TYPE_CHECKING:
    from checkpoint.health import ComponentReporter

log = logging.getLogger("checkpoint.forwarder")  # the forwarder's records keep the forwarder's logger name

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
    return dialect_insert(dialect, "store-and-forward to a central database")


class CentralLink:
    """The ``Forwarder``'s central engine and its watchdog (its state is set up by ``Forwarder``)."""

    # set up by Forwarder.__init__
    _central_url: str
    _connect_timeout_s: int
    _statement_timeout_s: float
    _slow_s: float
    _stalled_s: float
    _central: Optional[Engine]
    _engine_lock: threading.Lock
    _schema_checked: bool
    _connections: weakref.WeakSet
    _calls: dict[int, list]  # thread -> [started (monotonic), what, state reported]
    _call_lock: threading.Lock
    _stop: threading.Event
    _reporter: ComponentReporter
    _clock: Callable[[], float]
    reachable: bool

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

"""A stalled central database is never 'central: ok' while the outbox grows (issue 13, Low).

Two stalls on the real PostgreSQL: a table lock held longer than the statement timeout, and a proxy that
accepts and forwards nothing (black hole). Each shows ``central`` degraded ("slow"), then down; once the
stall ends every row arrives, once.
"""

from __future__ import annotations

import socket
import threading

import pytest
from gate_helpers import make_entry, pg_port, via_port
from polling import wait_until
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import Session
from tcp_proxy import TcpProxy, _close

from checkpoint.config import DatabaseConfig, Settings
from checkpoint.db import open_database
from checkpoint.forwarder import Forwarder, central_engine
from checkpoint.health import DEGRADED, DOWN, OK, HealthRegistry
from checkpoint.models import Entry

TIMEOUTS = {"connect_timeout_s": 1, "statement_timeout_s": 1.5, "slow_s": 0.4}


class BlackHoleProxy(TcpProxy):
    """A TcpProxy that can swallow everything: connections stay open, bytes go nowhere, new ones are accepted
    and never answered (a stalled middlebox, a network that drops replies)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.swallowing = threading.Event()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not self.swallowing.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _close(source)
            _close(sink)


def uids(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(Entry.uid).order_by(Entry.id)).scalars())


def count(engine) -> int:
    return len(uids(engine))


def states(registry: HealthRegistry) -> list[str]:
    seen: list[str] = []
    registry.on_change(lambda change: seen.append(change.state) if change.name == "central" else None)
    return seen


def local_log(tmp_path, n: int):
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    add(local, range(n))
    return local


def add(local, numbers) -> None:
    with Session(local) as session:
        session.add_all([make_entry("north", i) for i in numbers])
        session.commit()


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_the_timeouts_are_named_settings_and_reach_the_engine(pg_url):
    database = DatabaseConfig()
    assert (database.central_connect_timeout_s, database.central_statement_timeout_s, database.central_slow_s) \
        == (3, 10.0, 3.0)
    for name in ("central_connect_timeout_s", "central_statement_timeout_s", "central_slow_s"):
        assert DatabaseConfig.model_fields[name].description
    settings = Settings.model_validate({"database": {"central_statement_timeout_s": 2.5}})
    engine = central_engine(pg_url, settings.database.central_connect_timeout_s,
                            settings.database.central_statement_timeout_s)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "2500ms"
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_table_lock_turns_central_slow_then_down_and_nothing_is_lost(tmp_path, pg_url):
    import psycopg

    central = open_database(pg_url, migrate_schema=True)  # the owner's step
    local = local_log(tmp_path, 5)
    registry = HealthRegistry()
    seen = states(registry)
    forwarder = Forwarder(local, pg_url, registry.reporter("central"), poll_s=0.05, retry_max_s=0.5,
                          **TIMEOUTS).start()
    try:
        assert forwarder.flush(10) and registry.get("central").state == OK
        with psycopg.connect(plain(pg_url)) as holder:
            holder.execute("SET idle_in_transaction_session_timeout = '20s'")  # never a hung test
            holder.execute("LOCK TABLE entry IN EXCLUSIVE MODE")  # a long report, a stuck migration ...
            add(local, range(5, 155))
            forwarder.kick()
            assert wait_until(lambda: DEGRADED in seen, timeout=5), seen
            assert "central slow" in registry.get("central").message
            assert wait_until(lambda: registry.get("central").state == DOWN, timeout=5), seen
            assert "statement timeout" in registry.get("central").message
            assert forwarder.pending() == 150
            holder.rollback()
        assert forwarder.flush(20)
        assert registry.get("central").state == OK
        assert seen.index(DEGRADED) < seen.index(DOWN) < len(seen) - 1 and seen[-1] == OK
        assert uids(central) == uids(local) and count(central) == 155
    finally:
        forwarder.stop()
        central.dispose()


@pytest.mark.slow
def test_a_black_hole_proxy_turns_central_slow_then_down_and_nothing_is_lost(tmp_path, pg_url):
    central = open_database(pg_url, migrate_schema=True)
    local = local_log(tmp_path, 5)
    registry = HealthRegistry()
    seen = states(registry)
    with BlackHoleProxy(pg_port(pg_url)) as proxy:
        forwarder = Forwarder(local, via_port(pg_url, proxy.port), registry.reporter("central"), poll_s=0.05,
                              retry_max_s=0.5, **TIMEOUTS).start()
        try:
            assert forwarder.flush(10) and registry.get("central").state == OK
            proxy.swallowing.set()  # the pooled connections stay open, and answer nothing
            add(local, range(5, 155))
            forwarder.kick()
            assert wait_until(lambda: DEGRADED in seen, timeout=5), seen
            # no answer for the statement timeout plus the connect timeout: the gate gives up on its own side
            assert wait_until(lambda: registry.get("central").state == DOWN, timeout=6), seen
            assert registry.get("central").counters.get("stalls", 0) >= 1
            assert wait_until(lambda: registry.get("central").counters.get("forward_errors", 0) >= 2, timeout=8)
            assert registry.get("central").state == DOWN  # new connections time out too: still down, not ok
            assert count(central) == 5
            proxy.swallowing.clear()
            assert forwarder.flush(20)
            assert registry.get("central").state == OK
        finally:
            forwarder.stop()
    assert seen.index(DEGRADED) < seen.index(DOWN) and seen[-1] == OK
    assert uids(central) == uids(local) and count(central) == 155
    central.dispose()


@pytest.mark.parametrize("setting, value", [("central_connect_timeout_s", 0), ("central_statement_timeout_s", 0),
                                            ("central_slow_s", 0)])
def test_bad_values_are_refused(setting, value):
    with pytest.raises(ValueError, match=setting):
        Settings.model_validate({"database": {setting: value}})

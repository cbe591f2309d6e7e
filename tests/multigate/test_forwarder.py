"""The forwarder on its own: copies, idempotent re-sends, heartbeats, and a central outage under a live agent."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from gate_helpers import make_entry, make_exit, via_port
from polling import wait_until
from sqlalchemy import func, select, update
from sqlmodel import Session

from checkpoint.config import Settings
from checkpoint.db import make_engine, open_database
from checkpoint.forwarder import Forwarder
from checkpoint.health import DEGRADED, DOWN, OK, HealthRegistry
from checkpoint.models import Entry, Exit, GateStatus
from checkpoint.recorder import gate_status
from checkpoint.runtime import AgentRuntime


def uids(engine, table=Entry, gate_id=None):
    """uids in id order."""
    statement = select(table.uid).order_by(table.id)
    if gate_id:
        statement = statement.where(table.gate_id == gate_id)
    with engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def count(engine, table=Entry):
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def fill(url, rows):
    engine = open_database(url)
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    return engine


def forward_all(local, central_url, registry, **kwargs) -> Forwarder:
    forwarder = Forwarder(local, central_url, registry.reporter("central"), poll_s=0.05, **kwargs).start()
    assert forwarder.flush(20), "the outbox did not empty"
    return forwarder


def check_copy_and_resend(local, central_url):
    registry = HealthRegistry()
    forwarder = forward_all(local, central_url, registry, batch=7)
    forwarder.stop()
    central = make_engine(central_url)
    try:
        assert uids(central) == uids(local)
        assert uids(central, Exit) == uids(local, Exit)
        assert registry.get("central").state == OK
        with local.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Entry)
                                      .where(Entry.forwarded_at.is_(None))).scalar_one() == 0
        # the central log never holds a forwarding mark
        with central.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Entry)
                                      .where(Entry.forwarded_at.is_not(None))).scalar_one() == 0
        # a crash after "sent", before "marked sent": the same rows go again and are ignored
        with local.begin() as connection:
            connection.execute(update(Entry).values(forwarded_at=None))
            connection.execute(update(Exit).values(forwarded_at=None))
        forwarder = forward_all(local, central_url, registry, batch=7)
        forwarder.stop()
        assert forwarder.forwarded == 30 + 4
        assert count(central) == 30 and count(central, Exit) == 4
        assert uids(central) == uids(local)
    finally:
        central.dispose()


def rows_for(gate):
    rows = []
    for n in range(30):
        rows.append(make_entry(gate, n, 1_795_000_000 + n))
        if n % 8 == 0:
            rows.append(make_exit(gate, 1_795_000_000 + n))
    return rows


def test_copies_and_resends_idempotently_into_sqlite(tmp_path):
    local = fill(f"sqlite:///{tmp_path / 'gate.db'}", rows_for("g1"))
    check_copy_and_resend(local, f"sqlite:///{tmp_path / 'central.db'}")
    local.dispose()


@pytest.mark.postgres
def test_copies_and_resends_idempotently_into_postgres(tmp_path, pg_url):
    open_database(pg_url, migrate_schema=True).dispose()  # the owner's step (checkpoint init-db); gates never migrate
    local = fill(f"sqlite:///{tmp_path / 'gate.db'}", rows_for("g1"))
    check_copy_and_resend(local, pg_url)
    local.dispose()


@pytest.mark.postgres
def test_heartbeat_is_upserted_centrally(tmp_path, pg_url):
    open_database(pg_url, migrate_schema=True).dispose()  # the owner's step (checkpoint init-db)
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    registry = HealthRegistry()
    registry.reporter("scanner").down(100.0, "unplugged")
    forwarder = Forwarder(local, pg_url, registry.reporter("central"), poll_s=0.05).start()
    central = make_engine(pg_url)
    try:
        for backlog in (5, 0):
            forwarder.publish_status(gate_status("g1", "Pintu", "Asia/Jakarta", registry.snapshot(101.0), backlog,
                                                 0, None, 1_795_000_000 + backlog))
            assert forwarder.flush(10)
            with Session(central) as session:
                rows = session.scalars(select(GateStatus)).all()
                assert [(r.gate_id, r.backlog) for r in rows] == [("g1", backlog)]
                assert json.loads(rows[0].components)["scanner"]["state"] == DOWN
    finally:
        forwarder.stop()
        central.dispose()
        local.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_gate_clock_off_the_servers_shows_on_its_health(tmp_path, pg_url):
    open_database(pg_url, migrate_schema=True).dispose()  # the owner's step (checkpoint init-db)
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    for offset, state in ((0.0, OK), (42.0, DEGRADED), (0.0, OK)):
        registry = HealthRegistry()
        forwarder = Forwarder(local, pg_url, registry.reporter("central"), poll_s=0.05,
                              clock=lambda offset=offset: time.time() + offset).start()
        try:
            forwarder.publish_status(gate_status("g1", "Pintu", "Asia/Jakarta", registry.snapshot(), 0, 0, None,
                                                 time.time() + offset))
            assert forwarder.flush(10)
            assert registry.get("central").state == state, registry.get("central").message
            assert forwarder.clock_skew_s == pytest.approx(offset, abs=1.0)
            if state == DEGRADED:
                assert "clock is +42 s off the central database's" in registry.get("central").message
        finally:
            forwarder.stop()
    local.dispose()


def test_refuses_to_forward_into_its_own_log(tmp_path):
    local = open_database(f"sqlite:///{tmp_path / 'gate.db'}")
    with pytest.raises(ValueError):
        Forwarder(local, f"sqlite:///{tmp_path / 'gate.db'}", HealthRegistry().reporter("central"))
    local.dispose()


def status_row(engine, gate_id):
    with Session(engine) as session:
        row = session.get(GateStatus, gate_id)
        if row is None:
            return None
        return row.backlog, json.loads(row.components).get("central", {}).get("state")


@pytest.mark.slow
@pytest.mark.postgres
def test_central_outage_under_a_live_agent_loses_and_doubles_nothing(tmp_path, pg_url, proxy, caplog):
    """Pull the central database away mid-stream: entries wait, the screen shows the backlog,
    all arrive once, in order."""
    caplog.set_level(logging.INFO, logger="checkpoint.forwarder")
    local_url = f"sqlite:///{tmp_path / 'gate.db'}"
    settings = Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": "north", "name": "Pintu Utara"},
        "scanner": {"enabled": False}, "camera": {"enabled": False},
        "database": {"url": local_url, "central_url": via_port(pg_url, proxy.port), "forward_batch": 25},
    })
    local = open_database(local_url)
    central = open_database(pg_url, migrate_schema=True)  # the owner's step (checkpoint init-db); gates never migrate
    runtime = AgentRuntime(settings, engine=local, heartbeat_s=0.2).start()
    produced = []
    stop_producing = threading.Event()

    def produce():
        n = 0
        while not stop_producing.wait(0.01):
            entry = make_entry("north", n)
            produced.append(entry.uid)
            runtime.recorder.submit(entry)
            if n % 10 == 0:
                runtime.recorder.submit(make_exit("north"))
            n += 1

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        assert wait_until(lambda: count(central) >= 20), "forwarding never started"
        assert runtime.health.get("central").state == OK

        proxy.stop()
        assert wait_until(lambda: runtime.health.get("central").state == DOWN), "the outage was not noticed"
        at_outage = runtime.backlog()
        assert wait_until(lambda: runtime.backlog() >= at_outage + 100), "the backlog did not grow"
        # the gate's own screen shows it: the local heartbeat row carries the backlog and the central state
        def backlog_shown() -> bool:
            row = status_row(local, "north")
            return row is not None and row[0] >= 100 and row[1] == DOWN

        assert wait_until(backlog_shown)
        stuck = count(central)

        proxy.start()
        assert wait_until(lambda: count(central) > stuck + 50, timeout=20), "delivery did not resume"
        stop_producing.set()
        producer.join(5)
        assert runtime.recorder.flush(10)
        assert runtime.forwarder.flush(20)
        assert runtime.health.get("central").state == OK
        # the central heartbeat catches up too: backlog 0 and central ok
        assert wait_until(lambda: status_row(central, "north") == (0, OK), timeout=10)
    finally:
        stop_producing.set()
        runtime.stop()
    try:
        local_uids, central_uids = uids(local), uids(central)
        # at least 20 entries before the outage and 100 rows during it (one in 11 an exit); how many
        # more depends on the machine's speed (each submit waits for the journal's fsync)
        assert len(local_uids) == len(produced) >= 20 + 90
        assert central_uids == local_uids  # every entry, once, in the order of the local ids
        assert sorted(central_uids) == sorted(produced)
        assert uids(central, Exit) == uids(local, Exit)
        outages = [r for r in caplog.records if r.name == "checkpoint.forwarder" and r.levelno == logging.ERROR]
        assert len(outages) == 1, [r.getMessage() for r in outages]  # logged once per episode
        assert any("resumed" in r.getMessage() for r in caplog.records if r.name == "checkpoint.forwarder")
    finally:
        central.dispose()
        local.dispose()

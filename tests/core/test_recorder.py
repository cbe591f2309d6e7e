"""The recorder never drops an entry: locked and unreachable databases."""

import sqlite3
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, func, select

from checkpoint.db import open_database
from checkpoint.health import DOWN, OK, HealthRegistry
from checkpoint.models import Entry
from checkpoint.recorder import Recorder


def make_entry(i):
    return Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24", local_hour=9,
                 outcome="allowed", sensor_id=str(i))


def count(engine):
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Entry)).one()


@pytest.mark.slow
def test_locked_database_delays_but_never_drops(tmp_path):
    path = tmp_path / "log.db"
    engine = open_database(f"sqlite:///{path}", busy_timeout_s=0.05)
    health = HealthRegistry()
    reporter = health.reporter("database")
    went_down = threading.Event()
    health.on_change(lambda c: went_down.set() if c.state == DOWN else None)
    recorder = Recorder(engine, reporter, retry_max_s=0.2).start()

    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(20):
        recorder.submit(make_entry(i))
    assert went_down.wait(5), "a locked database must show as down"
    assert recorder.backlog == 20
    assert not recorder.flush(timeout=0.3)
    blocker.rollback()
    blocker.close()

    assert recorder.flush(timeout=10)
    assert recorder.stop()
    assert count(engine) == 20
    assert sorted(int(e) for e in _sensor_ids(engine)) == list(range(20))
    assert health.get("database").state == OK
    assert health.get("database").counters["write_errors"] >= 1
    engine.dispose()


def _sensor_ids(engine):
    with Session(engine) as session:
        return session.exec(select(Entry.sensor_id)).all()


@pytest.mark.slow
def test_unreachable_database_keeps_entries_until_it_returns(tmp_path):
    missing_dir = tmp_path / "not-yet"
    url = f"sqlite:///{missing_dir / 'log.db'}"
    # The folder disappears after the schema is created: writes fail with "unable to open".
    engine = open_database(url)
    engine.dispose()
    moved = tmp_path / "elsewhere"
    missing_dir.rename(moved)
    recorder = Recorder(engine, retry_max_s=0.1).start()
    for i in range(5):
        recorder.submit(make_entry(i))
    assert not recorder.flush(timeout=0.5)
    assert recorder.failed_attempts >= 1
    moved.rename(missing_dir)
    assert recorder.flush(timeout=10)
    recorder.stop()
    assert count(engine) == 5
    engine.dispose()


def test_retry_after_a_failed_commit_does_not_reuse_its_ids(tmp_path):
    """The commit fails after the rows were flushed (ids assigned); another writer then takes those ids.
    The retry must insert with fresh ids, not wedge on 'UNIQUE constraint failed: entry.id'."""
    path = tmp_path / "log.db"
    engine = open_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # an armed trigger makes the commit fail (deferred foreign key)
        db.executescript("""
            CREATE TABLE fail_once (armed INTEGER);
            INSERT INTO fail_once VALUES (1);
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
            CREATE TRIGGER refuse AFTER INSERT ON entry WHEN (SELECT armed FROM fail_once) = 1
            BEGIN INSERT INTO child VALUES (42); END;
        """)
    recorder = Recorder(engine, retry_initial_s=0.2, retry_max_s=0.2)
    first, second = make_entry(0), make_entry(1)
    first.sensor_id, second.sensor_id = "first", "second"
    recorder.submit(first)
    recorder.submit(second)
    recorder.start()
    deadline = time.monotonic() + 5
    while recorder.failed_attempts == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder.failed_attempts >= 1
    with sqlite3.connect(path) as db:  # another writer takes ids 1 and 2, then the fault clears
        for entry_id in (1, 2):
            db.execute("INSERT INTO entry (id, uid, gate_id, decided_at, local_date, local_hour, outcome, flagged, "
                       "reasons, primary_reason, calibration, offset_c, sensor_id, readings, face_seen, rules) "
                       "VALUES (?, ?, 'g', '2026-11-24 02:00:00', '2026-11-24', 9, 'allowed', 0, '', '', 'none', 0, "
                       "'web', 0, 0, '{}')", (entry_id, f"other{entry_id}"))
        db.execute("UPDATE fail_once SET armed = 0")
    assert recorder.flush(timeout=10)
    recorder.stop()
    assert sorted(_sensor_ids(engine)) == ["first", "second", "web", "web"]
    engine.dispose()

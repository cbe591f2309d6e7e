"""Local database faults under a running recorder: the file deleted, moved, replaced,
the disk full (then SIGKILL). No entry is lost, none is written twice.
(The read-only log and journal folder: test_db_read_only.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from db_fault_helpers import database_files, journal_ids, sensor_ids
from polling import wait_until
from sqlalchemy import event

from checkpoint.db import open_database
from checkpoint.health import DOWN, OK, HealthRegistry
from checkpoint.journal import Journal
from checkpoint.models import Entry
from checkpoint.recorder import Recorder


def make_entry(name: str) -> Entry:
    return Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24", local_hour=9,
                 outcome="allowed", body_c=36.6, sensor_id=name)


def backup(path: Path, to: Path) -> None:
    """A consistent copy, as an operator's backup would be."""
    source, target = sqlite3.connect(path), sqlite3.connect(to)
    with target:
        source.backup(target)
    source.close()
    target.close()


@pytest.fixture
def gate(tmp_path):
    """A recorder with a journal on a SQLite log; yields (recorder, health, db path, journal path)."""
    db = tmp_path / "checkpoint.db"
    engine = open_database(f"sqlite:///{db}", busy_timeout_s=0.2)
    health = HealthRegistry()
    journal = tmp_path / "journal-g.jsonl"
    recorder = Recorder(engine, health.reporter("database"), retry_max_s=0.1, settle_s=0.3,
                        journal=Journal(journal), journal_reporter=health.reporter("journal")).start()
    yield recorder, health, db, journal
    recorder.stop(timeout=0.5)
    engine.dispose()


@pytest.mark.slow
def test_deleted_database_is_down_keeps_entries_in_the_journal_and_a_restored_copy_gets_them_once(gate, tmp_path):
    recorder, health, db, journal = gate
    for i in range(5):
        recorder.submit(make_entry(f"before-{i}"))
    assert recorder.flush(timeout=10)
    backup(db, tmp_path / "backup.db")
    for path in database_files(db):  # rm checkpoint.db*
        path.unlink()

    for i in range(5):
        recorder.submit(make_entry(f"after-{i}"))
    assert wait_until(lambda: health.get("database").state == DOWN, timeout=5)
    assert "is gone (deleted or moved)" in health.get("database").message
    assert not recorder.flush(timeout=0.5)
    assert not db.exists()  # no new empty log made behind the operator's back
    assert journal_ids(journal) == [f"after-{i}" for i in range(5)]  # on disk, for a crash meanwhile

    db.touch()  # something leaves an empty file there: not a log, nothing is written into it
    time.sleep(1.0)
    assert health.get("database").state == DOWN
    assert "without an entry log" in health.get("database").message
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM sqlite_master WHERE name = 'entry'").fetchone()[0] == 0
    check.close()

    shutil.copy(tmp_path / "backup.db", tmp_path / "restoring.db")
    os.replace(tmp_path / "restoring.db", db)  # the operator restores the backup
    assert recorder.flush(timeout=10)
    assert sensor_ids(db) == sorted([f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)])
    assert health.get("database").state == OK
    assert Journal(journal).recover() == []  # emptied only once every row was read back from the real file


@pytest.mark.slow
def test_database_moved_away_is_down_and_written_once_when_it_is_back(gate, tmp_path):
    recorder, health, db, journal = gate
    recorder.submit(make_entry("before"))
    assert recorder.flush(timeout=10)
    aside = tmp_path / "aside"
    aside.mkdir()
    moved = database_files(db)
    for path in moved:
        path.rename(aside / path.name)
    for i in range(3):
        recorder.submit(make_entry(f"while-away-{i}"))
    assert wait_until(lambda: health.get("database").state == DOWN, timeout=5)
    assert not recorder.flush(timeout=0.5)
    for path in moved:
        (aside / path.name).rename(path)
    assert recorder.flush(timeout=10)
    assert sensor_ids(db) == ["before"] + [f"while-away-{i}" for i in range(3)]
    assert health.get("database").state == OK


def test_a_commit_into_a_file_moved_away_meanwhile_is_not_trusted_and_not_doubled(tmp_path):
    """The file is moved while a batch commits (into the moved file, by the open
    connection): the batch stays queued and in the journal, and when the file is
    back its rows are found there, announced once and not written again."""
    db = tmp_path / "checkpoint.db"
    engine = open_database(f"sqlite:///{db}")
    aside = tmp_path / "aside"
    aside.mkdir()
    moved: list[Path] = []

    @event.listens_for(engine, "commit")
    def move_during_commit(_connection):
        if not moved and (tmp_path / "arm").exists():
            for path in database_files(db):
                path.rename(aside / path.name)
                moved.append(path)

    health = HealthRegistry()
    heard: list[str] = []
    recorder = Recorder(engine, health.reporter("database"), retry_max_s=0.1, journal=Journal(tmp_path / "j.jsonl"))
    recorder.on_committed(lambda rows: heard.extend(row.sensor_id for row in rows))
    recorder.start()
    (tmp_path / "arm").touch()
    recorder.submit(make_entry("in-flight"))
    assert wait_until(lambda: health.get("database").state == DOWN, timeout=5)
    assert "is gone (deleted or moved)" in health.get("database").message
    assert sensor_ids(aside / "checkpoint.db") == ["in-flight"]  # the commit went into the moved file
    assert journal_ids(tmp_path / "j.jsonl") == ["in-flight"]
    for path in moved:
        (aside / path.name).rename(path)
    recorder.submit(make_entry("next"))
    assert recorder.flush(timeout=10) and recorder.stop()
    assert sensor_ids(db) == ["in-flight", "next"]
    assert heard == ["in-flight", "next"]
    engine.dispose()


# -- disk full (the small_disk fixture: conftest.py) ---------------------------------------------

def write_until_full(fd: int) -> None:
    """Write to ``fd`` until the disk takes no more (big blocks, then the last few)."""
    for size in (65536, 512):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass


def fill(folder: Path) -> Path:
    """Write a file until the disk is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        write_until_full(fd)
    finally:
        os.close(fd)
    return filler


def keep_full(folder: Path, stop: threading.Event) -> Path:
    """Take back every block that comes free until ``stop`` (SQLite frees its
    -wal file when the recorder drops its connections after a failed write):
    a disk that something else keeps filling, as a real one fills up."""
    filler = folder / "refiller"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while not stop.is_set():
            write_until_full(fd)
            stop.wait(0.005)
    finally:
        os.close(fd)
    return filler


DISK_FULL_CHILD = textwrap.dedent("""
    import logging, sys, time
    from datetime import datetime, timezone
    from checkpoint.db import make_engine
    from checkpoint.health import HealthRegistry
    from checkpoint.journal import Journal
    from checkpoint.models import Entry
    from checkpoint.recorder import Recorder
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    health = HealthRegistry()
    engine = make_engine(sys.argv[1], busy_timeout_s=0.2)
    recorder = Recorder(engine, health.reporter("database"), retry_max_s=0.1,
                        journal=Journal(sys.argv[2], reserve_bytes=256 * 1024),
                        journal_reporter=health.reporter("journal")).start()
    def entry(name):
        return Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24", local_hour=9,
                     outcome="allowed", body_c=36.6, sensor_id=name)
    for i in range(3):
        recorder.submit(entry(f"before-{i}"))
    print(recorder.flush(10), flush=True)
    sys.stdin.readline()  # the parent filled the disk
    for i in range(int(sys.argv[3])):
        recorder.submit(entry(f"full-{i}"))  # returned: on disk, if the journal could take it
        time.sleep(0.02)
    time.sleep(1.0)
    print(health.get("database").state, "|", health.get("database").message, "|", health.get("journal").message,
          "|", recorder.backlog, recorder.in_memory_only, flush=True)
    time.sleep(60)  # until killed
""")


@pytest.mark.slow
def test_entries_decided_while_the_disk_is_full_survive_a_kill(small_disk):
    db, journal = small_disk / "checkpoint.db", small_disk / "journal-g.jsonl"
    url = f"sqlite:///{db}"
    open_database(url).dispose()
    stop_refilling, refilling = threading.Event(), None
    child = subprocess.Popen([sys.executable, "-c", DISK_FULL_CHILD, url, str(journal), "40"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "True"
        filler = fill(small_disk)
        refilling = threading.Thread(target=keep_full, args=(small_disk, stop_refilling), daemon=True)
        refilling.start()
        child.stdin.write("go\n")
        child.stdin.flush()
        report = child.stdout.readline()
        assert report, child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        stop_refilling.set()
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()
    refilling.join(10)
    state, database_message, journal_message, counts = (part.strip() for part in report.split("|"))
    assert state == "down" and database_message.startswith("disk full"), report  # the premise: nothing commits
    assert journal_message.startswith("disk full: the journal writes into its reserved space"), report
    assert counts.split()[1] == "0", report  # none in memory only

    filler.unlink()  # space again; the next start writes what the journal kept
    (small_disk / "refiller").unlink()
    engine = open_database(url)
    recorder = Recorder(engine, journal=Journal(journal)).start()
    assert recorder.flush(timeout=10) and recorder.stop()
    engine.dispose()
    assert sensor_ids(db) == sorted([f"before-{i}" for i in range(3)] + [f"full-{i}" for i in range(40)])

"""The recorder's journal: rows survive the process, never twice in the log."""

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

from sqlmodel import Session, select

from checkpoint.db import open_database
from checkpoint.health import DEGRADED, OK, HealthRegistry
from checkpoint.journal import Journal, journal_path
from checkpoint.models import Entry, Exit
from checkpoint.recorder import Recorder


def make_entry(i: int) -> Entry:
    return Entry(gate_id="g", decided_at=datetime(2026, 11, 24, 2, 0, i, tzinfo=timezone.utc), local_date="2026-11-24",
                 local_hour=9, outcome="denied", reasons="fever", primary_reason="fever", body_c=38.1 + i / 10,
                 sensor_id=f"s{i}")


def uids(engine, model=Entry) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(model.uid)).all())


def test_rows_round_trip_with_their_times_and_uids(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    entry = make_entry(1)
    leaving = Exit(gate_id="g", at=datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc), local_date="2026-11-24")
    journal.append(entry)
    journal.append(leaving)
    back = Journal(tmp_path / "j.jsonl").recover()
    assert [type(r) for r in back] == [Entry, Exit]
    assert back[0].model_dump() == entry.model_dump() and back[1].model_dump() == leaving.model_dump()
    assert back[0].decided_at.tzinfo is not None
    assert stat.S_IMODE(os.stat(tmp_path / "j.jsonl").st_mode) == 0o600  # temperatures are health data
    journal.clear()
    assert Journal(tmp_path / "j.jsonl").recover() == []


def test_a_torn_last_line_and_a_garbled_line_are_skipped(tmp_path, caplog):
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    for i in range(3):
        journal.append(make_entry(i))
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(lines[0] + b"\n" + b"{not json\n" + lines[1] + b"\n" + lines[2][:40])  # crash mid-write
    back = Journal(path).recover()
    assert [r.sensor_id for r in back] == ["s0", "s1"]
    assert "unreadable line 2" in caplog.text and "torn last line" in caplog.text


def test_journal_file_name_is_per_gate_and_safe(tmp_path):
    assert journal_path(tmp_path, "Gate 1/lobby").name == "journal-Gate_1_lobby.jsonl"


CHILD = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timezone
    from checkpoint.db import make_engine
    from checkpoint.journal import Journal
    from checkpoint.models import Entry
    from checkpoint.recorder import Recorder
    engine = make_engine(sys.argv[1], busy_timeout_s=0.05)
    recorder = Recorder(engine, journal=Journal(sys.argv[2]), retry_max_s=0.1).start()
    for i in range(int(sys.argv[3])):
        recorder.submit(Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24",
                              local_hour=9, outcome="allowed", body_c=36.5, sensor_id=f"child-{i}"))
        print(recorder.backlog, flush=True)  # submit returned: the row is on disk
    time.sleep(60)
""")


def test_rows_of_a_killed_agent_reach_the_log_after_restart(tmp_path):
    """The database is locked, so nothing commits; the agent is killed with
    SIGKILL; the next start writes every row it had accepted, exactly once."""
    db = tmp_path / "log.db"
    url = f"sqlite:///{db}"
    open_database(url).dispose()
    blocker = sqlite3.connect(db, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    with subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path / "j.jsonl"), "12"],
                          stdout=subprocess.PIPE, text=True) as child:
        try:
            backlogs = [int(child.stdout.readline()) for _ in range(12)]
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
    blocker.rollback()
    blocker.close()
    assert backlogs[-1] >= 1  # still waiting for the database when killed

    engine = open_database(url)
    assert uids(engine) == []
    health = HealthRegistry()
    recorder = Recorder(engine, health.reporter("database"), journal=Journal(tmp_path / "j.jsonl")).start()
    assert recorder.flush(timeout=10) and recorder.stop()
    with Session(engine) as session:
        assert sorted(session.exec(select(Entry.sensor_id)).all()) == sorted(f"child-{i}" for i in range(12))
    assert Journal(tmp_path / "j.jsonl").recover() == []  # emptied once committed
    engine.dispose()


def test_rows_committed_before_the_crash_are_not_written_twice(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'log.db'}")
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    rows = [make_entry(i) for i in range(4)]
    for row in rows:
        journal.append(row)
    with Session(engine) as session:  # the first two committed, then the process died before emptying the journal
        for row in rows[:2]:
            session.add(Entry.model_validate(row.model_dump(exclude={"id"})))
        session.commit()
    committed = []
    recorder = Recorder(engine, journal=Journal(path))
    recorder.on_committed(committed.extend)
    recorder.start()
    recorder.submit(make_entry(9))
    assert recorder.flush(timeout=10) and recorder.stop()
    assert uids(engine) == sorted(r.uid for r in rows + [recorder_rows_last(engine)])
    assert sorted(r.sensor_id for r in committed) == ["s2", "s3", "s9"]  # listeners hear of new rows only
    engine.dispose()


def recorder_rows_last(engine) -> Entry:
    with Session(engine) as session:
        return session.exec(select(Entry).where(Entry.sensor_id == "s9")).one()


def test_a_failing_journal_is_reported_and_rows_still_reach_the_database(tmp_path, caplog):
    engine = open_database(f"sqlite:///{tmp_path / 'log.db'}")
    journal = Journal(tmp_path / "j.jsonl")
    journal._fd = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC
    health = HealthRegistry()
    recorder = Recorder(engine, health.reporter("database"), journal=journal,
                        journal_reporter=health.reporter("journal"))
    assert health.get("journal").state == OK
    recorder.submit(make_entry(0))  # before the writer starts: nothing can empty the journal yet
    assert health.get("journal").message.startswith("entries not on disk, in memory only until committed")
    recorder.start()
    for i in range(1, 3):
        recorder.submit(make_entry(i))
    assert recorder.flush(timeout=10) and recorder.stop()
    assert len(uids(engine)) == 3
    shown = health.get("journal")  # on the screen's health panel
    assert shown.state == DEGRADED and shown.message.startswith("cannot empty")  # /dev/full cannot be truncated
    assert shown.counters["errors"] == 4  # each append, and the emptying
    assert "No space left on device" in caplog.text
    assert health.get("database").state == OK
    engine.dispose()


FULL_DISK_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from datetime import datetime, timezone
    from checkpoint.journal import Journal
    from checkpoint.models import Entry
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))  # the disk fills up mid-line
    journal = Journal(sys.argv[1])
    written = failed = 0
    for i in range(10):
        try:
            journal.append(Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24",
                                 local_hour=9, outcome="allowed", sensor_id=f"s{i}"))
            written += 1
        except OSError:
            failed += 1
    print(written, failed)
""")


def test_a_line_cut_short_by_a_full_disk_is_removed(tmp_path):
    path = tmp_path / "j.jsonl"
    out = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    written, failed = int(out[0]), int(out[1])
    assert written >= 1 and failed >= 1  # the premise: some lines fitted, later ones did not
    data = path.read_bytes()
    assert data.endswith(b"\n") and len(data) <= 1500
    assert [r.sensor_id for r in Journal(path).recover()] == [f"s{i}" for i in range(written)]


def test_an_unusable_journal_path_does_not_stop_the_gate(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    journal = Journal(blocker / "j.jsonl")  # cannot make the folder: logged, not raised
    assert journal.recover() == []
    engine = open_database(f"sqlite:///{tmp_path / 'log.db'}")
    health = HealthRegistry()
    recorder = Recorder(engine, journal=journal, journal_reporter=health.reporter("journal")).start()
    recorder.submit(make_entry(1))
    assert recorder.flush(timeout=10) and recorder.stop()
    assert len(uids(engine)) == 1
    assert health.get("journal").state == DEGRADED
    assert "cannot be made" in caplog.text
    engine.dispose()

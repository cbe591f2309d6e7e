"""Local database faults under a running recorder: the log read-only, then its journal's
folder too (to a child process without root's capabilities). Writes resume without a
restart; no entry is lost, none is written twice; a stop counts only what the journal holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from db_fault_helpers import database_files, journal_ids, sensor_ids

from checkpoint.db import open_database

# Root ignores file modes; the child drops the capabilities that let it (CAP_DAC_OVERRIDE,
# CAP_DAC_READ_SEARCH, CAP_FOWNER), so a file without write permission is read-only to it.
CAPS = textwrap.dedent("""
    import ctypes, os
    class _Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class _Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    if os.geteuid() == 0:
        _libc = ctypes.CDLL(None, use_errno=True)
        _header, _data = _Header(0x20080522, 0), (_Data * 2)()
        assert _libc.capget(ctypes.byref(_header), _data) == 0
        _mask = ~((1 << 1) | (1 << 2) | (1 << 3)) & 0xFFFFFFFF
        for _field in ("effective", "permitted", "inheritable"):
            setattr(_data[0], _field, getattr(_data[0], _field) & _mask)
        assert _libc.capset(ctypes.byref(_header), _data) == 0
""")

READ_ONLY_CHILD = CAPS + textwrap.dedent("""
    import logging, sys, time
    from datetime import datetime, timezone
    from checkpoint.db import make_engine
    from checkpoint.health import HealthRegistry
    from checkpoint.journal import Journal
    from checkpoint.models import Entry
    from checkpoint.recorder import Recorder
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    url, journal_path = sys.argv[1], sys.argv[2]
    health = HealthRegistry()
    engine = make_engine(url, busy_timeout_s=0.2)  # the agent (re)connects during the read-only spell
    recorder = Recorder(engine, health.reporter("database"), retry_max_s=0.1, journal=Journal(journal_path),
                        journal_reporter=health.reporter("journal")).start()
    def entry(name):
        return Entry(gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24", local_hour=9,
                     outcome="allowed", sensor_id=name)
    for command in sys.stdin:
        verb, _, arg = command.strip().partition(" ")
        if verb == "submit":
            for i in range(int(arg.split()[1])):
                recorder.submit(entry(f"{arg.split()[0]}-{i}"))
            reply = "ok"
        elif verb == "flush":
            reply = str(recorder.flush(timeout=float(arg)))
        elif verb == "health":
            reply = f"{health.get('database').state} {recorder.in_memory_only} {health.get('database').message}"
        elif verb == "stop":
            reply = str(recorder.stop(timeout=float(arg)))
        print(reply, flush=True)
""")


class Child:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", READ_ONLY_CHILD, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        assert reply, f"the child died: {self.process.stderr.read()}"
        return reply.strip()

    def close(self) -> str:
        self.process.stdin.close()
        self.process.wait(20)
        errors = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return errors


def set_writable(paths, writable: bool) -> None:
    for path in paths:
        mode = 0o755 if path.is_dir() else 0o644
        os.chmod(path, mode if writable else mode & 0o555)


@pytest.fixture
def read_only_log(tmp_path):
    db = tmp_path / "checkpoint.db"
    open_database(f"sqlite:///{db}").dispose()
    files = database_files(db)
    set_writable(files, False)
    probe = subprocess.run([sys.executable, "-c", CAPS + f"open({str(db)!r}, 'r+b')"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("cannot make a file read-only for a child process here")
    yield db
    set_writable(database_files(db), True)


@pytest.mark.slow
def test_writes_resume_after_a_read_only_spell_without_a_restart(read_only_log, tmp_path):
    db = read_only_log
    child = Child(f"sqlite:///{db}", str(tmp_path / "j.jsonl"))
    try:
        assert child.ask("submit during 5") == "ok"
        assert child.ask("flush 1") == "False"
        state = child.ask("health")
        assert state.startswith("down 0 read-only:"), state
        set_writable(database_files(db), True)  # the spell ends
        assert child.ask("flush 10") == "True"
        assert child.ask("submit after 3") == "ok"
        assert child.ask("flush 10") == "True"
        assert child.ask("health").startswith("ok")
        assert child.ask("stop 5") == "True"
    finally:
        errors = child.close()
    assert sensor_ids(db) == sorted([f"during-{i}" for i in range(5)] + [f"after-{i}" for i in range(3)]), errors


@pytest.mark.slow
def test_a_stop_counts_only_what_the_journal_really_holds(read_only_log, tmp_path):
    """The journal's folder is read-only too: rows wait in memory only, and the
    stop says so; once the folder is writable they are put in the journal."""
    db = read_only_log
    folder = tmp_path / "journal"
    folder.mkdir()
    set_writable([folder], False)
    child = Child(f"sqlite:///{db}", str(folder / "j.jsonl"))
    try:
        assert child.ask("submit first 4") == "ok"
        assert child.ask("flush 0.5") == "False"
        assert child.ask("health").startswith("down 4 ")
        set_writable([folder], True)
        assert child.ask("submit second 2") == "ok"  # the journal works again: it takes the 4 as well
        assert child.ask("health").startswith("down 0 ")
        assert child.ask("stop 0.5") == "False"
    finally:
        errors = child.close()
    assert "6 rows not yet written (kept in the journal for the next start)" in errors
    assert journal_ids(folder / "j.jsonl") == sorted([f"first-{i}" for i in range(4)] + ["second-0", "second-1"])

    set_writable([folder], False)
    child = Child(f"sqlite:///{db}", str(tmp_path / "journal" / "other.jsonl"))
    try:
        assert child.ask("submit lost 3") == "ok"
        assert child.ask("stop 0.5") == "False"
    finally:
        errors = child.close()
        set_writable([folder], True)
    assert "3 rows not yet written: 0 kept in the journal for the next start, 3 the journal could not take" in errors

"""SIGKILL an agent in the middle of a burst, twice; restart it: every committed entry reaches the centre once."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from checkpoint.db import make_engine, open_database
from checkpoint.models import Entry

SCRIPT = Path(__file__).resolve().parent / "agent_burst.py"


def start_agent(local_url: str, central_url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), "--local", local_url, "--central", central_url, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=SCRIPT.parent)


def read_lines(process: subprocess.Popen) -> "queue.Queue[str | None]":
    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def burst_then_kill(local_url: str, central_url: str, at_least: int) -> list[str]:
    """Run a burst; SIGKILL once ``at_least`` entries were committed; return the uids it reported."""
    process = start_agent(local_url, central_url)
    lines = read_lines(process)
    seen: list[str] = []
    try:
        while len(seen) < at_least:
            line = lines.get(timeout=30)
            assert line is not None, f"the agent ended early: {process.stderr.read()}"
            seen.append(line)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
        while (line := lines.get(timeout=10)) is not None:  # lines already in the pipe when it died
            seen.append(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
        process.stderr.close()
    return seen


def local_state(path: Path) -> tuple[str, list[str], list[str]]:
    with sqlite3.connect(path) as db:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        uids = [row[0] for row in db.execute("SELECT uid FROM entry ORDER BY id")]
        waiting = [row[0] for row in db.execute("SELECT uid FROM entry WHERE forwarded_at IS NULL ORDER BY id")]
    db.close()
    return check, uids, waiting


def central_uids(engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(Entry.uid).order_by(Entry.id)).scalars())


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_mid_burst_and_restarted_loses_and_doubles_nothing(tmp_path, pg_url):
    path = tmp_path / "gate.db"
    local_url = f"sqlite:///{path}"
    open_database(pg_url, migrate_schema=True).dispose()  # the owner's step (checkpoint init-db); gates never migrate
    reported: list[str] = []
    for round_ in range(2):
        reported += burst_then_kill(local_url, pg_url, at_least=150 * (round_ + 1) - len(reported))
        check, local, waiting = local_state(path)
        assert check == "ok"
        assert set(reported) <= set(local)  # committed means durable, even under SIGKILL

    restart = start_agent(local_url, pg_url, "--forward-only", "--timeout", "60")
    out, err = restart.communicate(timeout=90)
    assert restart.returncode == 0, err
    assert out.strip() == "delivered"

    check, local, waiting = local_state(path)
    assert check == "ok" and waiting == []
    central = make_engine(pg_url)
    try:
        in_centre = central_uids(central)
        with central.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(Entry)).scalar_one()
    finally:
        central.dispose()
    assert len(reported) >= 300
    assert rows == len(in_centre) == len(set(in_centre)) == len(local)
    assert in_centre == local  # once each, in the order they were committed
    assert set(reported) <= set(in_centre)

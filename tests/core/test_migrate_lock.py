"""Every migration of one database runs alone: processes that migrate at the same moment wait for each other.

db.migrate takes the lock itself (PostgreSQL: an advisory lock in the migration's
transaction; SQLite: BEGIN IMMEDIATE), so init-db, a web app on a fresh SQLite file
and agents are serialised whoever starts them. Without it, four processes migrating
a fresh database at once fail with duplicate tables or a locked database.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import inspect

from checkpoint.db import head_revision, make_engine, open_database, schema_revision

CHILD = """
import sys, time
from checkpoint.db import open_database
url, start, migrate = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "owner"
while time.time() < start:
    time.sleep(0.0005)
open_database(url, migrate_schema=True if migrate else None).dispose()
print("migrated")
"""


def migrate_at_once(url: str, processes: int = 4, mode: str = "owner") -> list[subprocess.CompletedProcess]:
    start = time.time() + 4.0  # after every interpreter has imported sqlalchemy and alembic (2 slow cores)
    children = [subprocess.Popen([sys.executable, "-c", CHILD, url, repr(start), mode],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    return results


@pytest.mark.slow
def test_processes_migrating_one_database_at_once_take_turns(db_url):
    mode = "auto" if db_url.startswith("sqlite") else "owner"  # SQLite: the web app's and agents' own open
    results = migrate_at_once(db_url, mode=mode)
    assert [(r.returncode, r.stdout.strip()) for r in results] == [(0, "migrated")] * 4, \
        [r.stderr[-600:] for r in results if r.returncode]
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
        assert {"entry", "exit", "override", "gate_status", "app_user"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    open_database(db_url).dispose()  # the schema every process finds afterwards

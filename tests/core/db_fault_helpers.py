"""Helpers shared by the local database fault tests (test_db_faults.py, test_db_read_only.py): the log's
files and what they and the journal hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from checkpoint.journal import Journal


def sensor_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(row[0] for row in db.execute("SELECT sensor_id FROM entry"))


def database_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def journal_ids(path: Path) -> list[str]:
    return sorted(row.sensor_id for row in Journal(path).recover())

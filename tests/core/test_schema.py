"""The alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import checkpoint.models  # noqa: F401
from checkpoint.db import open_database


def test_migrated_schema_matches_models(db_url):
    engine = open_database(db_url, migrate_schema=True)  # as the owner (checkpoint init-db)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    open_database(db_url, migrate_schema=True).dispose()  # migrating again is a no-op
    open_database(db_url).dispose()  # what gates and the web app do: the schema is at their revision
    engine.dispose()


def test_sqlite_runs_in_wal_with_durable_commits(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


def test_a_new_sqlite_log_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    import os
    import stat

    path = tmp_path / "log" / "checkpoint.db"
    engine = open_database(f"sqlite:///{path}")
    with engine.connect() as connection:  # an open connection keeps the -wal and -shm files
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        connection.commit()
        modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in path.parent.iterdir()}
    engine.dispose()
    assert modes == {"checkpoint.db": 0o600, "checkpoint.db-wal": 0o600, "checkpoint.db-shm": 0o600}

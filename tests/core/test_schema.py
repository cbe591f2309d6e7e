"""The alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import checkpoint.models  # noqa: F401
from checkpoint.db import open_database


def test_migrated_schema_matches_models(db_url):
    engine = open_database(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    open_database(db_url).dispose()  # migrating again is a no-op
    engine.dispose()


def test_sqlite_runs_in_wal_with_durable_commits(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()

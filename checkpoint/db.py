"""The one place that opens databases: engines, SQLite pragmas, migrations.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed entry
survives a power cut; a busy timeout lets the web app read while the
recorder writes. PostgreSQL is used by URL (``postgresql+psycopg://...``).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

log = logging.getLogger(__name__)
_MIGRATION_LOCK = threading.Lock()
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(busy_timeout_s: float):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return on_connect


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 5.0, pool_size: Optional[int] = None) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed,
    and a new SQLite file readable by its owner only (it holds temperatures:
    SQLite gives its -wal and -shm files the same mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass  # an existing log keeps the mode its owner gave it
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        return engine
    kwargs = {"pool_pre_ping": True}
    if pool_size:
        kwargs["pool_size"] = pool_size
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 5}
    return create_engine(url, **kwargs)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (alembic upgrade head) on ``engine``.

    alembic keeps its migration context in module globals, so migrations in
    one process run one at a time, whatever thread asks.
    """
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with _MIGRATION_LOCK, engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.debug("database schema is up to date: %s", engine.url.render_as_string(hide_password=True))


def open_database(url: str, **kwargs) -> Engine:
    """Open ``url`` and migrate it: what every process calls first."""
    engine = make_engine(url, **kwargs)
    migrate(engine)
    return engine

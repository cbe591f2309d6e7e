"""The one place that opens databases: engines, SQLite pragmas, migrations.

SQLite runs in WAL mode with ``synchronous=FULL`` so a committed entry
survives a power cut; a busy timeout lets the web app read while the
recorder writes. PostgreSQL is used by URL (``postgresql+psycopg://...``).

Who migrates: a SQLite file belongs to the process that opens it, so it is
migrated at open. Any other database (the central PostgreSQL) is migrated only
by its owner's command, ``checkpoint init-db``; gates and the web app log in
with roles that cannot change the schema (checkpoint/roles.py) and only check
that the schema is the one they need (``SchemaNotReady`` otherwise).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ProgrammingError
from sqlmodel import create_engine

log = logging.getLogger(__name__)
_MIGRATION_LOCK = threading.Lock()
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x43_4B_50_54  # "CKPT": the PostgreSQL advisory lock every migration of a database takes
SQLITE_MIGRATION_WAIT_S = 60.0  # another process migrating the same SQLite file: wait this long for it


class SchemaNotReady(RuntimeError):
    """The database's schema is not the one this program needs, and this process does not migrate it."""

    def __init__(self, current: Optional[str], head: str, what: str = "database", detail: str = "") -> None:
        self.current, self.head = current, head
        if detail:
            message = f"{what}: {detail}"
        elif current is None:
            message = (f"{what} schema is at revision none (no tables), this program needs {head}: "
                       "run `checkpoint init-db` as the owner")
        elif _is_known(current):
            message = (f"{what} schema is at revision {current}, this program needs {head}: "
                       "run `checkpoint init-db` as the owner")
        else:
            message = (f"{what} schema is at revision {current}, newer than this program knows (it needs {head}): "
                       "upgrade checkpoint on this machine")
        super().__init__(message)


def _sqlite_pragmas(busy_timeout_s: float):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    return on_connect


def dialect_insert(dialect: str, purpose: str):
    """The dialect's ``insert`` construct, with ON CONFLICT (PostgreSQL and SQLite; ``purpose`` words the
    refusal of any other)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    raise ValueError(f"{purpose} needs PostgreSQL or SQLite, not {dialect}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = 5.0, pool_size: Optional[int] = None) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed,
    and a new SQLite file readable by its owner only (it holds temperatures:
    SQLite gives its -wal and -shm files the same mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": busy_timeout_s, "check_same_thread": False}
        creator = None
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            import sqlite3
            from urllib.parse import quote

            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass  # an existing log keeps the mode its owner gave it
            # The file exists now: every connection opens it "mode=rw", which never creates one. A log
            # deleted or moved while the process runs is then an error, not a new empty log.
            uri = f"file:{quote(os.path.abspath(path))}?mode=rw"

            def creator():
                return sqlite3.connect(uri, uri=True, **connect_args)

        if creator is not None:
            engine = create_engine(url, creator=creator)
        else:
            engine = create_engine(url, connect_args=connect_args)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        if creator is not None:
            from sqlalchemy.exc import DisconnectionError

            absolute = os.path.abspath(path)

            def identity():
                try:
                    st = os.stat(absolute)
                except OSError:
                    return None
                return st.st_dev, st.st_ino

            def remember_file(_dbapi_connection, record) -> None:
                record.info["sqlite_file"] = identity()

            def same_file(_dbapi_connection, record, _proxy) -> None:
                # A pooled connection outlives its file when the file is deleted, moved or replaced,
                # and would go on reading and writing the old one: it is closed, a new one opened.
                if record.info.get("sqlite_file") != identity():
                    raise DisconnectionError(f"database file {absolute} was deleted, moved or replaced")

            event.listen(engine, "connect", remember_file)
            event.listen(engine, "checkout", same_file)
        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
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


@functools.lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The schema revision this program's models need (alembic head)."""
    return _script().get_current_head()


def _is_known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except Exception:  # alembic raises for a revision it has no script for
        return False


def schema_revision(connection: Connection) -> Optional[str]:
    """The revision the database is at (None: never migrated)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine, what: Optional[str] = None) -> str:
    """Raise ``SchemaNotReady`` unless the database is at this program's revision; returns it.

    What a process that does not own the database calls instead of migrating.
    ``what`` names the database in the message (default: its URL, password hidden)."""
    if what is None:
        what = f"database {engine.url.render_as_string(hide_password=True)}"
    head = head_revision()
    try:
        with engine.connect() as connection:
            current = schema_revision(connection)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42501":  # insufficient_privilege on alembic_version
            raise SchemaNotReady(None, head, what, "cannot read the schema revision (permission denied): "
                                 "run `checkpoint init-db --grant-roles` as the owner") from exc
        raise
    if current != head:
        raise SchemaNotReady(current, head, what)
    return current


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (alembic upgrade head) on ``engine``: the owner's step.

    Every migration of a database runs alone: alembic keeps its migration
    context in module globals, so one process migrates one database at a time
    whatever thread asks; on PostgreSQL the migration's transaction holds an
    advisory lock, on SQLite a write lock (BEGIN IMMEDIATE), so processes
    (init-db, web apps, agents) that start together wait for each other and
    the later ones find the schema up to date.
    """
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with _MIGRATION_LOCK, engine.connect() as connection:
        restore_timeout = None
        if sqlite:
            restore_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(SQLITE_MIGRATION_WAIT_S * 1000)}")
            connection.commit()  # ends SQLAlchemy's autobegun block (a PRAGMA opens no SQLite transaction)
        try:
            with connection.begin():
                if sqlite:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: DDL waits its turn
                elif engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if restore_timeout is not None:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={int(restore_timeout)}")
                connection.commit()
    log.debug("database schema is up to date: %s", engine.url.render_as_string(hide_password=True))


def owns_schema(engine: Engine) -> bool:
    """Whether opening this database migrates it: a SQLite file is its process's own; a server is not."""
    return engine.dialect.name == "sqlite"


def open_database(url: str, *, migrate_schema: Optional[bool] = None, **kwargs) -> Engine:
    """Open ``url``: what every process calls first.

    ``migrate_schema`` None: a SQLite file is migrated, any other database is
    only checked (``SchemaNotReady`` when it is not at this program's
    revision). True migrates (``checkpoint init-db``, as the owner); False
    only checks."""
    engine = make_engine(url, **kwargs)
    try:
        if owns_schema(engine) if migrate_schema is None else migrate_schema:
            migrate(engine)
        else:
            check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine

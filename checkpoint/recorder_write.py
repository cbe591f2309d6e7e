"""The recorder's verified write: one batch committed, read back and checked against the file.

Part of the ``Recorder`` class (checkpoint/recorder.py, which holds its
state): the SQLite file's identity is checked before the batch and again after
the commit, and the batch's uids are read back, before its rows may leave the
queue; a settled replacement file that holds an entry log is adopted.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from checkpoint.health import short_error
from checkpoint.models import Entry, Exit, GateStatus
from checkpoint.recorder_faults import KEPT, DatabaseFileError, SqliteFile

if TYPE_CHECKING:
    from checkpoint.journal import Journal

log = logging.getLogger("checkpoint.recorder")  # the recorder's records keep the recorder's logger name

Row = Entry | Exit


class VerifiedWrite:
    """The ``Recorder``'s methods that write and verify a batch (its state is set up by ``Recorder``)."""

    # set up by Recorder.__init__
    _engine: Engine
    _file: Optional[SqliteFile]
    _journal: Optional[Journal]
    _cond: threading.Condition
    _pending: deque[Row]
    _unjournaled: set[str]
    _recheck: set[str]
    _unannounced: set[str]

    def _where_kept(self) -> str:
        if self._journal is None:
            return "entries wait in memory"
        with self._cond:
            return KEPT if not self._unjournaled else "entries wait in memory (the journal cannot take them all)"

    def _dispose(self) -> None:
        if self._file is not None or self._engine.url.get_backend_name() != "sqlite":
            try:
                self._engine.dispose()
            except Exception as exc:  # closing a broken connection can fail too
                log.debug("disposing of the database connections failed: %s", exc)

    def _check_file(self) -> None:
        """Raise DatabaseFileError unless the log's file is still at its path
        (or a settled replacement holding an entry log has been adopted)."""
        if self._file is None:
            return
        problem = self._file.problem()
        if problem is None:
            return
        replacement = self._file.settled_replacement()
        if replacement is not None:
            self._dispose()  # connections opened before were on the old file
            verdict = self._inspect()
            if verdict is None:
                log.warning("database file %s is another file now (restored from a copy?): it holds an entry log, "
                            "writing to it from now on", self._file.path)
                self._file.adopt(replacement)
                with self._cond:
                    self._recheck.update(row.uid for row in self._pending)  # the copy may hold some of them
                return
            problem = f"database file {self._file.path} was replaced by {verdict}"
        raise DatabaseFileError(f"{problem}; {self._where_kept()} until it is back")

    def _inspect(self) -> Optional[str]:
        """None when the file now at the path holds an entry log, else what it is."""
        try:
            with self._engine.connect() as connection:
                tables = set(connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
                if not {"entry", "alembic_version"} <= tables:
                    return "a file without an entry log (`checkpoint init-db` starts a new log there)"
                check = connection.exec_driver_sql("PRAGMA quick_check").scalar()
                if check != "ok":
                    return f"a damaged file ({check})"
        except SQLAlchemyError as exc:
            return f"a file that cannot be read ({short_error(exc)})"
        finally:
            self._dispose()
        return None

    def _write(self, batch: list[Row], status: Optional[GateStatus]) -> list[Row]:
        """Commit the batch (and heartbeat), then verify it: the batch's uids
        read back, and the file still the one at the path. Returns the rows
        to announce: without journal rows an earlier run had committed already."""
        self._check_file()
        with Session(self._engine, expire_on_commit=False) as session:
            present = self._present(session, batch) if self._recheck else set()
            if present:
                log.info("%d rows were in the database already (committed before a restart or a fault), skipped",
                         len(present))
            rows = [row for row in batch if row.uid not in present]
            if status is not None:  # first: its SELECT would flush the rows, and a failure would name the merge
                session.merge(status)
            for row in rows:
                session.add(row)
            session.commit()
            if batch:
                missing = {row.uid for row in batch} - self._present(session, batch, all_rows=True)
                if missing:
                    raise DatabaseFileError(f"{len(missing)} committed rows not found when read back; "
                                            f"{self._where_kept()}")
        if self._file is not None:
            problem = self._file.problem()
            if problem is not None:
                raise DatabaseFileError(f"{problem} during the commit; {self._where_kept()} until it is back")
        announced = [row for row in batch if row.uid not in present or row.uid in self._unannounced]
        if self._recheck:
            self._recheck.difference_update(row.uid for row in batch)
        if self._unannounced:
            self._unannounced.difference_update(row.uid for row in batch)
        return announced

    def _present(self, session: Session, batch: list[Row], all_rows: bool = False) -> set[str]:
        """The uids of ``batch`` (those to recheck, or all) the database has."""
        present: set[str] = set()
        for model in (Entry, Exit):
            uids = [row.uid for row in batch if isinstance(row, model) and (all_rows or row.uid in self._recheck)]
            for start in range(0, len(uids), 500):
                present.update(session.exec(select(col(model.uid))
                                            .where(col(model.uid).in_(uids[start:start + 500]))).all())
        return present

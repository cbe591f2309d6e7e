"""The recorder: the one writer of entry rows.

Entries are queued by the agent and written by one thread in transactions.
A failed write (database locked, unreachable, read-only, disk full) is
retried with backoff, in order, until it succeeds: an entry handed to the
recorder is never dropped while the process lives, and with a journal
(``journal.py``) not when it dies either. The database component's health
reflects the state of the writes.

A commit is not enough to let a row go. A SQLite file can be deleted, moved
or replaced under a running agent, and a connection opened earlier then
writes on into the unlinked file: every commit "succeeds" and the entries are
gone. So the file's identity (``st_dev``, ``st_ino``, and that its path still
names it) is checked before each batch and again after the commit, and the
batch's uids are read back; only then do its rows leave the queue, and the
journal is emptied only once the queue is. A gone or replaced file is
"database down" with a message that says so. A file put back is written again:
the same file at once, another one (a restored copy) once it has stopped
changing for ``settle_s`` and holds an entry log (the recorder never starts a
new empty log mid-run; ``checkpoint init-db`` does, on purpose). Connections
are disposed of after every failed write, so one opened during a read-only
spell is not reused once the file is writable again.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import make_transient
from sqlmodel import Session, select

from checkpoint.backoff import Backoff
from checkpoint.health import ComponentReporter, short_error
from checkpoint.journal import Journal
from checkpoint.models import Entry, Exit, GateStatus
from checkpoint.retention import PurgeResult, RetentionJob, strip_measurements

log = logging.getLogger(__name__)

Row = Entry | Exit
KEPT = "entries are kept in the journal"


class DatabaseFileError(RuntimeError):
    """The path no longer names the SQLite file the recorder writes to."""


class SqliteFile:
    """The identity of the SQLite file an engine writes to (``st_dev``, ``st_ino``)."""

    def __init__(self, path: str, settle_s: float = 2.0) -> None:
        self.path = os.path.abspath(path)
        self.settle_s = settle_s
        st = self._stat()
        self.identity = (st.st_dev, st.st_ino) if st is not None else None
        self._candidate: Optional[tuple] = None
        self._candidate_since = 0.0

    @staticmethod
    def for_engine(engine: Engine, settle_s: float = 2.0) -> Optional["SqliteFile"]:
        url = engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
                or url.database.startswith("file:"):
            return None
        return SqliteFile(url.database, settle_s)

    def _stat(self) -> Optional[os.stat_result]:
        try:
            return os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def problem(self) -> Optional[str]:
        """None while the path names the file the log was in, else what happened to it."""
        try:
            st = self._stat()
        except OSError as exc:  # e.g. the folder is not searchable any more
            return f"database file {self.path} cannot be checked: {short_error(exc)}"
        if st is None:
            return f"database file {self.path} is gone (deleted or moved)"
        if (st.st_dev, st.st_ino) == self.identity:
            self._candidate = None
            return None
        return f"database file {self.path} was replaced" if self.identity else f"database file {self.path} appeared"

    def settled_replacement(self) -> Optional[os.stat_result]:
        """The other file now at the path, once it has not changed for ``settle_s``
        (not a copy still being written), else None."""
        try:
            st = self._stat()
        except OSError:
            return None
        if st is None or (st.st_dev, st.st_ino) == self.identity:
            return None
        candidate = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        now = time.monotonic()
        if candidate != self._candidate:
            self._candidate, self._candidate_since = candidate, now
        return st if now - self._candidate_since >= self.settle_s else None

    def adopt(self, st: os.stat_result) -> None:
        self.identity = (st.st_dev, st.st_ino)
        self._candidate = None


FULL_BELOW_BYTES = 64 * 1024  # a disk I/O error with less free than this is taken for a full disk


def failure_kind(exc: BaseException, folder: Optional[str] = None) -> Optional[str]:
    """"disk full" or "read-only" when the error says so, else None. SQLite
    says only "disk I/O error" when it cannot grow its -shm file: with
    ``folder`` (the database file's) that counts as full when its disk is."""
    lowered = short_error(exc).lower()
    if "disk is full" in lowered or "no space left" in lowered or getattr(exc, "errno", None) == errno.ENOSPC:
        return "disk full"
    if "readonly" in lowered or "read-only" in lowered:
        return "read-only"
    if folder is not None and "disk i/o error" in lowered:
        try:
            fs = os.statvfs(folder)
        except OSError:
            return None
        if fs.f_bavail * fs.f_frsize < FULL_BELOW_BYTES:
            return "disk full"
    return None


def describe_failure(exc: BaseException, kept: str = KEPT, folder: Optional[str] = None) -> str:
    """The health message for a failed write (``kept``: where the waiting entries are)."""
    if isinstance(exc, DatabaseFileError):
        return str(exc)
    kind = failure_kind(exc, folder)
    if kind is not None:
        return f"{kind}: {short_error(exc)}; {kept}"
    return f"write failed: {short_error(exc)}"


class Recorder:
    def __init__(self, engine: Engine, reporter: Optional[ComponentReporter] = None,
                 clock: Callable[[], float] = time.time, batch_size: int = 100,
                 retry_initial_s: float = 0.05, retry_max_s: float = 2.0,
                 journal: Optional[Journal] = None, journal_reporter: Optional[ComponentReporter] = None,
                 settle_s: float = 2.0, retention: Optional[RetentionJob] = None,
                 store_temperatures: bool = True) -> None:
        self._engine = engine
        # [privacy] entry_retention_days: the daily purge runs in the writer thread, the log's one writer
        self._retention = retention
        self._purge_requests: list[tuple[threading.Event, dict]] = []
        self._store_temperatures = store_temperatures  # false: outcome only, stripped before the journal
        self._reporter = reporter
        self._clock = clock
        self._batch_size = batch_size
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._file = SqliteFile.for_engine(engine, settle_s)
        self._pending: deque[Row] = deque()
        self._status: Optional[GateStatus] = None
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._listeners: list[Callable[[list[Row]], None]] = []
        self.committed = 0
        self.failed_attempts = 0
        self.last_error = ""
        self._journal = journal
        self._journal_reporter = journal_reporter
        self._journal_failing = False
        self._unjournaled: set[str] = set()  # uids of queued rows the journal could not take
        # uids the database may have already: rows from the journal of an earlier run, and rows
        # of a commit that could not be verified (a failed commit, a file replaced around it)
        self._recheck: set[str] = set()
        self._unannounced: set[str] = set()  # rows of this run the listeners have not heard of
        if journal is not None:
            recovered = journal.recover()
            if not store_temperatures:
                for row in recovered:
                    if isinstance(row, Entry):
                        strip_measurements(row)
            self._recheck = {row.uid for row in recovered}
            self._pending.extend(recovered)
            if journal_reporter:
                journal_reporter.ok(clock())

    # -- the agent's side -------------------------------------------------

    def on_committed(self, listener: Callable[[list[Row]], None]) -> None:
        """Call ``listener(rows)`` in the writer thread after each verified commit."""
        self._listeners.append(listener)

    def submit(self, row: Row) -> None:
        """Queue a row; with a working journal it is on disk when this returns."""
        if not self._store_temperatures and isinstance(row, Entry):
            strip_measurements(row)  # outcome only: not in the journal, the log or the central copy either
        with self._cond:
            if self._journal is not None:
                if self._unjournaled:
                    self._journal_catch_up()
                if not self._journal_call("entries not on disk, in memory only until committed",
                                          self._journal.append, row):
                    self._unjournaled.add(row.uid)
            self._pending.append(row)
            self._cond.notify_all()

    def _journal_call(self, failure: str, method, *args) -> bool:
        """A failing journal (disk full, read-only) is reported, never fatal:
        the rows still go to the database from memory."""
        try:
            method(*args)
        except OSError as exc:
            if not self._journal_failing:
                log.error("recorder journal %s failed: %s", self._journal.path, short_error(exc))
                self._journal_failing = True
            if self._journal_reporter:
                self._journal_reporter.degraded(self._clock(), f"{failure}: {short_error(exc)}")
                self._journal_reporter.count("errors")
            return False
        self._journal_works()
        return True

    def _journal_works(self) -> None:
        if self._unjournaled:
            return  # still rows in memory only: the panel keeps saying so
        if self._journal_failing:
            log.info("recorder journal %s works again", self._journal.path)
            self._journal_failing = False
        if self._journal_reporter:
            warning = self._journal.space_warning()
            if warning:
                self._journal_reporter.degraded(self._clock(), warning)
            else:
                self._journal_reporter.ok(self._clock())

    def _journal_catch_up(self) -> None:
        """Append the queued rows the journal could not take before (call with the lock held)."""
        for row in list(self._pending):
            if row.uid not in self._unjournaled:
                continue
            try:
                self._journal.append(row)
            except OSError:
                return  # still failing: counted and shown by the call that failed first
            self._unjournaled.discard(row.uid)
        log.info("recorder journal %s holds every waiting row again", self._journal.path)
        self._journal_works()

    def publish_status(self, status: GateStatus) -> None:
        """Replace the heartbeat row to write (only the newest one matters)."""
        with self._cond:
            self._status = status
            self._cond.notify_all()

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._pending) + (1 if self._busy else 0)

    @property
    def in_memory_only(self) -> int:
        """Rows waiting that the journal does not hold (lost if the process dies)."""
        with self._cond:
            return len(self._unjournaled)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed and verified."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy or self._status is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def purge_entries(self, timeout: float = 60.0) -> PurgeResult:
        """Run the retention purge now, in the writer thread (between two batches); its result.
        Raises what the purge raised, or TimeoutError."""
        if self._retention is None:
            raise RuntimeError("no entry retention configured ([privacy] entry_retention_days = 0)")
        done, box = threading.Event(), {}
        with self._cond:
            self._purge_requests.append((done, box))
            self._cond.notify_all()
        if not done.wait(timeout):
            raise TimeoutError(f"the entry purge did not finish within {timeout:g} s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _retention_due(self) -> bool:
        """Call with the lock held."""
        return self._retention is not None and (bool(self._purge_requests) or self._retention.due(self._clock()))

    def _run_retention(self) -> None:
        """The retention purge, in the writer thread: daily, and for each waiting request."""
        with self._cond:
            requests, self._purge_requests = self._purge_requests, []
        box: dict = {}
        try:
            box["result"] = self._retention.run(self._engine, self._clock())
        except Exception as exc:  # locked, down: tried again later; never stops the writer
            log.error("entry retention purge failed (tried again in %.0f s): %s", self._retention.retry_s,
                      short_error(exc))
            box["error"] = exc
        for done, waiting in requests:
            waiting.update(box)
            done.set()

    def start(self) -> "Recorder":
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is pending (up to ``timeout``), then stop. Returns False if rows remain."""
        flushed = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=max(self._retry_max_s, 1.0) + 1.0)
        with self._cond:
            requests, self._purge_requests = self._purge_requests, []
        for done, box in requests:  # asked for a purge the stopped writer will not run
            box["error"] = RuntimeError("the recorder stopped before the entry purge ran")
            done.set()
        if not flushed:
            with self._cond:
                if self._journal is not None and self._unjournaled:
                    self._journal_catch_up()  # a last chance for the rows in memory only
                waiting, memory_only = len(self._pending), len(self._unjournaled)
            if self._journal is None:
                log.error("recorder stopped with %d rows not yet written (no journal: they are lost)", waiting)
            elif memory_only:
                log.error("recorder stopped with %d rows not yet written: %d kept in the journal for the next "
                          "start, %d the journal could not take (lost)", waiting, waiting - memory_only, memory_only)
            else:
                log.error("recorder stopped with %d rows not yet written (kept in the journal for the next start)",
                          waiting)
        if self._journal is not None:
            self._journal.close()
        return flushed

    # -- the writer thread -------------------------------------------------

    def _take(self) -> tuple[list[Row], Optional[GateStatus]]:
        with self._cond:
            while not self._pending and self._status is None and not self._stopping:
                if self._retention is None:
                    self._cond.wait()
                elif self._retention_due():
                    break
                else:
                    self._cond.wait(self._retention.seconds_until_due(self._clock()))
            batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
            status = self._status
            self._busy = bool(batch) or status is not None
            return batch, status

    def _run(self) -> None:
        backoff = Backoff(self._retry_max_s, self._retry_initial_s)
        failing = False
        while True:
            if self._retention is not None:
                with self._cond:
                    due = self._retention_due() and not self._stopping
                if due:
                    self._run_retention()
            batch, status = self._take()
            if not batch and status is None:
                with self._cond:
                    if not self._stopping:
                        continue  # woken for the retention purge
                return  # stopping with nothing left
            try:
                written = self._write(batch, status)
            except Exception as exc:  # locked, unreachable, full, gone, or a bug: retry, never drop
                for row in batch:  # flushed in the failed transaction: its ids may go to another writer
                    make_transient(row)
                    row.id = None
                self._recheck.update(row.uid for row in batch)  # the commit may have reached a database
                self._unannounced.update(row.uid for row in batch)
                self._dispose()  # a connection opened read-only, or on a replaced file, is not reused
                self.failed_attempts += 1
                problem = self._file.problem() if self._file is not None else None
                folder = os.path.dirname(self._file.path) if self._file is not None else None
                if problem is None and self._file is not None and not isinstance(exc, DatabaseFileError) \
                        and failure_kind(exc, folder) is None:  # on a full or read-only disk, looking inside fails too
                    verdict = self._inspect()  # a new file can get the deleted one's inode number: look inside
                    if verdict is not None:
                        problem = f"database file {self._file.path} was replaced by {verdict}"
                if problem is not None and not isinstance(exc, DatabaseFileError):  # the error's real cause
                    message = f"{problem}; {self._where_kept()} until it is back"
                else:
                    message = describe_failure(exc, self._where_kept(), folder)
                if not failing or message != self.last_error:
                    log.error("database write failed, will retry (%d rows waiting): %s",
                              len(self._pending), message, exc_info=not isinstance(exc, (SQLAlchemyError, OSError,
                                                                                   DatabaseFileError)))
                    failing = True
                self.last_error = message
                if self._reporter:
                    self._reporter.down(self._clock(), message)
                    self._reporter.count("write_errors")
                with self._cond:
                    if self._journal is not None and self._unjournaled:
                        self._journal_catch_up()
                    self._busy = False
                    if self._stopping:
                        return
                    self._cond.wait(backoff.next())
                continue
            backoff.reset()
            if failing:
                log.info("database writes recovered")
                failing = False
                self.last_error = ""
            if self._reporter:
                self._reporter.ok(self._clock())
            with self._cond:
                for _ in batch:
                    row = self._pending.popleft()
                    self._unjournaled.discard(row.uid)
                if self._status is status:
                    self._status = None
                if batch and not self._pending and self._journal is not None:
                    self._journal_call("cannot empty (its rows are committed)", self._journal.clear)
                self._busy = False
                self.committed += len(written)
                self._cond.notify_all()
            if written:
                for listener in self._listeners:
                    try:
                        listener(written)
                    except Exception:  # a listener must never stop the writer
                        log.exception("entry listener failed")

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
                present.update(session.exec(select(model.uid).where(model.uid.in_(uids[start:start + 500]))).all())
        return present


def gate_status(gate_id: str, name: str, timezone_name: str, components: dict, backlog: int,
                capacity: int, started_at: Optional[datetime], now: float, capacity_scope: str = "gate") -> GateStatus:
    return GateStatus(
        gate_id=gate_id, name=name, timezone=timezone_name,
        updated_at=datetime.fromtimestamp(now, tz=timezone.utc), started_at=started_at,
        components=json.dumps(components, sort_keys=True), backlog=backlog, capacity=capacity,
        capacity_scope=capacity_scope,
    )

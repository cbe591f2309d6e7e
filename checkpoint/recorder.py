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

import json
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import make_transient

from checkpoint.backoff import Backoff
from checkpoint.health import ComponentReporter, short_error
from checkpoint.journal import Journal
from checkpoint.models import Entry, GateStatus
from checkpoint.recorder_faults import (  # noqa: F401  (re-exported: checkpoint.recorder.X still works)
    FULL_BELOW_BYTES,
    KEPT,
    DatabaseFileError,
    SqliteFile,
    describe_failure,
    failure_kind,
)
from checkpoint.recorder_journal import JournalUse
from checkpoint.recorder_write import Row, VerifiedWrite
from checkpoint.retention import PurgeResult, RetentionJob, strip_measurements

log = logging.getLogger(__name__)


class Recorder(JournalUse, VerifiedWrite):
    """The writer thread and its queue; the journal's use is in checkpoint/recorder_journal.py,
    the verified write of a batch in checkpoint/recorder_write.py."""

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
        done = threading.Event()
        box: dict[str, Any] = {}
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
        assert self._retention is not None  # _run calls this only with a retention job
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


def gate_status(gate_id: str, name: str, timezone_name: str, components: dict, backlog: int,
                capacity: int, started_at: Optional[datetime], now: float, capacity_scope: str = "gate") -> GateStatus:
    return GateStatus(
        gate_id=gate_id, name=name, timezone=timezone_name,
        updated_at=datetime.fromtimestamp(now, tz=timezone.utc), started_at=started_at,
        components=json.dumps(components, sort_keys=True), backlog=backlog, capacity=capacity,
        capacity_scope=capacity_scope,
    )

"""The recorder: the one writer of entry rows.

Entries are queued by the agent and written by one thread in transactions.
A failed write (database locked, unreachable, disk full) is retried with
backoff, in order, until it succeeds: an entry handed to the recorder is
never dropped while the process lives, and with a journal (``journal.py``)
not when it dies either. The database component's health reflects the state
of the writes.
"""

from __future__ import annotations

import json
import logging
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

log = logging.getLogger(__name__)

Row = Entry | Exit


class Recorder:
    def __init__(self, engine: Engine, reporter: Optional[ComponentReporter] = None,
                 clock: Callable[[], float] = time.time, batch_size: int = 100,
                 retry_initial_s: float = 0.05, retry_max_s: float = 2.0,
                 journal: Optional[Journal] = None, journal_reporter: Optional[ComponentReporter] = None) -> None:
        self._engine = engine
        self._reporter = reporter
        self._clock = clock
        self._batch_size = batch_size
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._pending: deque[Row] = deque()
        self._status: Optional[GateStatus] = None
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._listeners: list[Callable[[list[Row]], None]] = []
        self.committed = 0
        self.failed_attempts = 0
        self._journal = journal
        self._journal_reporter = journal_reporter
        self._journal_failing = False
        self._recovered: set[str] = set()  # uids from the journal: the database may have them already
        if journal is not None:
            recovered = journal.recover()
            self._recovered = {row.uid for row in recovered}
            self._pending.extend(recovered)
            if journal_reporter:
                journal_reporter.ok(clock())

    # -- the agent's side -------------------------------------------------

    def on_committed(self, listener: Callable[[list[Row]], None]) -> None:
        """Call ``listener(rows)`` in the writer thread after each commit."""
        self._listeners.append(listener)

    def submit(self, row: Row) -> None:
        """Queue a row; with a journal it is on disk when this returns."""
        with self._cond:
            if self._journal is not None:
                self._journal_call("entries not on disk, in memory only until committed", self._journal.append, row)
            self._pending.append(row)
            self._cond.notify_all()

    def _journal_call(self, failure: str, method, *args) -> None:
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
            return
        if self._journal_failing:
            log.info("recorder journal %s works again", self._journal.path)
            self._journal_failing = False
            if self._journal_reporter:
                self._journal_reporter.ok(self._clock())

    def publish_status(self, status: GateStatus) -> None:
        """Replace the heartbeat row to write (only the newest one matters)."""
        with self._cond:
            self._status = status
            self._cond.notify_all()

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._pending) + (1 if self._busy else 0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy or self._status is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

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
        if not flushed:
            log.error("recorder stopped with %d rows not yet written%s", len(self._pending),
                      " (kept in the journal for the next start)" if self._journal else "")
        if self._journal is not None:
            self._journal.close()
        return flushed

    # -- the writer thread -------------------------------------------------

    def _take(self) -> tuple[list[Row], Optional[GateStatus]]:
        with self._cond:
            while not self._pending and self._status is None and not self._stopping:
                self._cond.wait()
            batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
            status = self._status
            self._busy = bool(batch) or status is not None
            return batch, status

    def _run(self) -> None:
        backoff = Backoff(self._retry_max_s, self._retry_initial_s)
        failing = False
        while True:
            batch, status = self._take()
            if not batch and status is None:
                return  # stopping with nothing left
            try:
                written = self._write(batch, status)
            except Exception as exc:  # locked, unreachable, full, or a bug: retry, never drop
                for row in batch:  # flushed in the failed transaction: its ids may go to another writer
                    make_transient(row)
                    row.id = None
                self.failed_attempts += 1
                if not failing:
                    log.error("database write failed, will retry (%d rows waiting): %s",
                              self.backlog, short_error(exc), exc_info=not isinstance(exc, (SQLAlchemyError, OSError)))
                    failing = True
                if self._reporter:
                    self._reporter.down(self._clock(), f"write failed: {short_error(exc)}")
                    self._reporter.count("write_errors")
                with self._cond:
                    self._busy = False
                    if self._stopping:
                        return
                    self._cond.wait(backoff.next())
                continue
            backoff.reset()
            if failing:
                log.info("database writes recovered")
                failing = False
            if self._reporter:
                self._reporter.ok(self._clock())
            with self._cond:
                for _ in batch:
                    self._pending.popleft()
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

    def _write(self, batch: list[Row], status: Optional[GateStatus]) -> list[Row]:
        """Commit the batch (and heartbeat); returns the rows written, without
        journal rows an earlier run had committed already."""
        with Session(self._engine, expire_on_commit=False) as session:
            rows = self._not_yet_written(session, batch) if self._recovered else batch
            for row in rows:
                session.add(row)
            if status is not None:
                session.merge(status)
            session.commit()
        if self._recovered:
            self._recovered.difference_update(row.uid for row in batch)
        return rows

    def _not_yet_written(self, session: Session, batch: list[Row]) -> list[Row]:
        present: set[str] = set()
        for model in (Entry, Exit):
            uids = [row.uid for row in batch if isinstance(row, model) and row.uid in self._recovered]
            if uids:
                present.update(session.exec(select(model.uid).where(model.uid.in_(uids))).all())
        if present:
            log.info("journal: %d rows were committed before the restart, skipped", len(present))
        return [row for row in batch if row.uid not in present]



def gate_status(gate_id: str, name: str, timezone_name: str, components: dict, backlog: int,
                capacity: int, started_at: Optional[datetime], now: float, capacity_scope: str = "gate") -> GateStatus:
    return GateStatus(
        gate_id=gate_id, name=name, timezone=timezone_name,
        updated_at=datetime.fromtimestamp(now, tz=timezone.utc), started_at=started_at,
        components=json.dumps(components, sort_keys=True), backlog=backlog, capacity=capacity,
        capacity_scope=capacity_scope,
    )

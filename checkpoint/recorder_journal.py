"""The recorder's use of its journal (checkpoint/journal.py): a failing journal is reported, never fatal.

Part of the ``Recorder`` class (checkpoint/recorder.py, which holds its
state and lock).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Callable, Optional

from checkpoint.health import short_error

if TYPE_CHECKING:
    from checkpoint.health import ComponentReporter
    from checkpoint.journal import Journal
    from checkpoint.recorder_write import Row

log = logging.getLogger("checkpoint.recorder")  # the recorder's records keep the recorder's logger name


class JournalUse:
    """The ``Recorder``'s methods around its journal (its state is set up by ``Recorder``)."""

    # set up by Recorder.__init__
    _journal: Optional[Journal]
    _journal_reporter: Optional[ComponentReporter]
    _journal_failing: bool
    _clock: Callable[[], float]
    _pending: deque[Row]
    _unjournaled: set[str]

    def _journal_call(self, failure: str, method, *args) -> bool:
        """A failing journal (disk full, read-only) is reported, never fatal:
        the rows still go to the database from memory."""
        assert self._journal is not None  # these methods run only when the recorder has a journal
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
        assert self._journal is not None
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
        assert self._journal is not None
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

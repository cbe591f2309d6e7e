"""What a failed write of the entry log means, for the recorder (checkpoint/recorder.py).

The SQLite file's identity (``SqliteFile``: ``st_dev``, ``st_ino``, and that
its path still names it), and the classification of a write's error
(``failure_kind``: disk full, read-only) into the message the database
component's health shows (``describe_failure``).
"""

from __future__ import annotations

import errno
import os
import time
from typing import Optional

from sqlalchemy.engine import Engine

from checkpoint.health import short_error

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

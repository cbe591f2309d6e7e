"""The recorder's journal: rows handed over but maybe not yet committed.

The recorder writes to the database in its own thread and retries for as long
as the database is locked or unreachable; until then the rows live in memory.
The journal makes them survive the process too (a crash, a SIGKILL, a power
cut): each row is appended as one JSON line and synced to disk before
``submit`` returns, and the file is emptied whenever everything handed over
has been committed. On start the recorder reads the journal back and writes
the rows the database does not have yet (matched by ``uid``).

The file holds health data (temperatures): it is created 0600 beside the
database in the data directory.

A full disk must not stop the journal: it keeps ``reserve_bytes`` (4 MiB,
several thousand entries) allocated past its end (``fallocate`` with
``FALLOC_FL_KEEP_SIZE``: the file's size does not change), so appends land in
blocks it already owns when nothing else can be written. While space is low
it is emptied by appending a ``committed`` marker (everything before it is in
the database) instead of truncating, which would hand its reserved blocks to
whoever asks next. ``space_warning()`` says when the disk is full and how much
of the reserve is left; ``rows`` is what the file really holds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import logging
import os
import re
from pathlib import Path
from typing import Optional

from checkpoint.models import Entry, Exit

log = logging.getLogger(__name__)

Row = Entry | Exit
KINDS: dict[str, type[Row]] = {"entry": Entry, "exit": Exit}
COMMITTED = b'{"kind":"committed"}\n'  # every row above this line is in the database
RESERVE_BYTES = 4 << 20
FALLOC_FL_KEEP_SIZE = 1


def _load_fallocate():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError):  # not Linux / glibc: no reserve, the journal works without it
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


_fallocate = _load_fallocate()


def reserve_space(fd: int, length: int) -> None:
    """Allocate blocks for the first ``length`` bytes of ``fd`` without changing its size (raises OSError)."""
    if _fallocate is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate is not available")
    if _fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, length) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def journal_path(data_dir: Path, gate_id: str) -> Path:
    """One journal per gate, so agents sharing a data directory keep apart."""
    return data_dir / f"journal-{re.sub(r'[^A-Za-z0-9_.-]', '_', gate_id)}.jsonl"


def encode(row: Row) -> bytes:
    kind = "entry" if isinstance(row, Entry) else "exit"
    return (json.dumps({"kind": kind, "row": row.model_dump(mode="json", exclude={"id"})},
                       separators=(",", ":")) + "\n").encode("utf-8")


def decode(line: bytes) -> Row:
    record = json.loads(line)
    return KINDS[record["kind"]].model_validate(record["row"])


class Journal:
    def __init__(self, path: Path, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.path = Path(path)
        self.reserve_bytes = reserve_bytes
        self.rows = 0  # rows the file holds (after the last committed marker)
        self.disk_full = False  # the reserve could not be renewed: appends use up what is left of it
        self._reserve_unsupported = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the first append reports it on the health panel
            log.error("journal folder %s cannot be made: %s", self.path.parent, exc)
        self._fd: Optional[int] = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._reserve()
        return self._fd

    def _reserve(self) -> None:
        """Keep ``reserve_bytes`` allocated past the end of the file (topped up
        once less than half is left). Never raises: without a reserve the
        journal still works until the disk fills."""
        if self._fd is None or self.reserve_bytes <= 0 or self._reserve_unsupported:
            return
        try:
            st = os.fstat(self._fd)
            if st.st_blocks * 512 - st.st_size >= self.reserve_bytes // 2:
                return
            reserve_space(self._fd, st.st_size + self.reserve_bytes)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                if not self.disk_full:
                    log.error("disk full: journal %s writes into its reserved space (%d KiB left)",
                              self.path, self.reserve_left() // 1024)
                self.disk_full = True
            else:  # e.g. a filesystem without fallocate, or /dev/full
                self._reserve_unsupported = True
                log.warning("journal %s: space cannot be reserved ahead (%s); a full disk stops the journal",
                            self.path, exc)
            return
        if self.disk_full:
            log.info("journal %s: disk space is back, reserve renewed", self.path)
        self.disk_full = False

    def reserve_left(self) -> int:
        """Bytes allocated past the end of the file (what appends can use on a full disk)."""
        if self._fd is None:
            return 0
        try:
            st = os.fstat(self._fd)
        except OSError:
            return 0
        return max(st.st_blocks * 512 - st.st_size, 0)

    def space_warning(self) -> Optional[str]:
        """A message for the health panel while the disk is full, else None."""
        if not self.disk_full:
            try:
                fs = os.statvfs(self.path.parent)
            except OSError:
                return None
            if fs.f_bavail * fs.f_frsize >= max(self.reserve_bytes // 4, 64 * 1024):
                return None
        if self._reserve_unsupported or self.reserve_bytes <= 0:
            return "disk full: the journal has no reserved space, entries stop reaching it"
        return f"disk full: the journal writes into its reserved space ({self.reserve_left() // 1024} KiB left)"

    def _space_is_low(self) -> bool:
        if self.disk_full:
            return True
        if self.reserve_bytes <= 0 or self._reserve_unsupported:
            return False
        try:
            fs = os.statvfs(self.path.parent)
        except OSError:
            return False
        return fs.f_bavail * fs.f_frsize < 2 * self.reserve_bytes

    def recover(self) -> list[Row]:
        """The rows in the journal, in order. A torn last line (the process
        died while writing it: its ``submit`` never returned) is skipped; any
        other unreadable line is logged and skipped."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:  # unreadable: the gate must still start
            log.error("journal %s cannot be read, rows of an earlier run in it are not recovered: %s", self.path, exc)
            return []
        lines = data.split(b"\n")
        rows: list[Row] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if line + b"\n" == COMMITTED:
                rows = []  # everything above it was in the database
                continue
            try:
                rows.append(decode(line))
            except (ValueError, KeyError, TypeError) as exc:
                if number == len(lines):  # no newline after it: torn by the crash
                    log.warning("journal %s: ignoring a torn last line (%d bytes)", self.path, len(line))
                else:
                    log.error("journal %s: unreadable line %d skipped: %s", self.path, number, exc)
        if rows:
            log.warning("journal %s: %d rows from an earlier run to check against the database", self.path, len(rows))
        self.rows = len(rows)
        return rows

    def append(self, row: Row) -> None:
        """Write one row and sync it to disk (raises OSError when that fails;
        a partly written line is cut off again so it cannot swallow the next)."""
        self._append(encode(row))
        self.rows += 1

    def _append(self, data: bytes) -> None:
        fd = self._open()
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass  # the torn line stays; recover() skips what it cannot read
            self._reserve()  # cutting the line off may have released reserved blocks
            raise
        self._reserve()

    def clear(self) -> None:
        """Everything journaled is committed: empty the file.

        While space is low the file keeps its blocks (truncating would hand
        them to whoever asks next): a committed marker is appended instead,
        until less than half the reserve is left, when the committed rows'
        space is taken back (truncated and reserved again at once)."""
        fd = self._open()
        if self._space_is_low() and self.reserve_left() >= self.reserve_bytes // 2:
            try:
                self._append(COMMITTED)
                self.rows = 0
                return
            except OSError:
                pass  # no room even for the marker: truncate after all
        os.ftruncate(fd, 0)
        os.fsync(fd)
        self.rows = 0
        self._reserve()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

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
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Optional

from checkpoint.models import Entry, Exit

log = logging.getLogger(__name__)

Row = Entry | Exit
KINDS: dict[str, type] = {"entry": Entry, "exit": Exit}


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
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the first append reports it on the health panel
            log.error("journal folder %s cannot be made: %s", self.path.parent, exc)
        self._fd: Optional[int] = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

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
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
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
        return rows

    def append(self, row: Row) -> None:
        """Write one row and sync it to disk (raises OSError when that fails;
        a partly written line is cut off again so it cannot swallow the next)."""
        fd = self._open()
        data = encode(row)
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
            raise

    def clear(self) -> None:
        """Everything journaled is committed: empty the file."""
        fd = self._open()
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

"""Serial recordings: every byte received and sent, with its time, as diff-able text.

Format (version 1)::

    # checkpoint serial recording v1
    # port: /dev/ttyUSB0
    # baudrate: 9600
    # framing: 8N1
    # protocol: ascii
    # options: {}
    # started: 2026-05-04T08:00:00.000Z
    0.5120 < 41 6d 62 69 65 6e 74 20 3d 20 32 34 2e 35 31 2a  |Ambient = 24.51*|
    0.5000 > 01 03 00 12 00 01 24 0f  |......$.|
    3.0000 ! unplugged [Errno 5] Input/output error
    4.0000 ! replugged

Each data line is ``offset_s direction hex |printable|``: ``<`` received from
the device, ``>`` sent to it; ``!`` lines are events (``unplugged``,
``replugged``, or anything else, which replay ignores). Offsets are seconds
since the start; a received chunk is split into lines of 32 bytes that share
its time. Everything after ``|`` is for people and ignored when read back.
Header keys other than those above are kept in ``Header.extra``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Union

MAGIC = "# checkpoint serial recording v1"
BYTES_PER_LINE = 32


@dataclass
class Header:
    port: str = ""
    baudrate: int = 9600
    framing: str = "8N1"
    protocol: str = ""
    options: dict = field(default_factory=dict)
    started: str = ""
    extra: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [MAGIC, f"# port: {self.port}", f"# baudrate: {self.baudrate}", f"# framing: {self.framing}",
               f"# protocol: {self.protocol}", f"# options: {json.dumps(self.options, sort_keys=True)}",
               f"# started: {self.started}"]
        out += [f"# {key}: {value}" for key, value in self.extra.items()]
        return out


@dataclass(frozen=True)
class Event:
    offset: float
    direction: str  # "<" received, ">" sent, "!" event
    data: bytes = b""
    text: str = ""


def printable(data: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


def format_event(event: Event) -> list[str]:
    if event.direction == "!":
        return [f"{event.offset:.4f} ! {' '.join(event.text.split())}"]
    lines = []
    for i in range(0, max(len(event.data), 1), BYTES_PER_LINE):
        chunk = event.data[i:i + BYTES_PER_LINE]
        lines.append(f"{event.offset:.4f} {event.direction} {chunk.hex(' ')}  |{printable(chunk)}|")
    return lines


class RecordingWriter:
    """Thread-safe writer; ``tap(direction, t, payload)`` plugs into ``ScannerReader(tap=...)``."""

    def __init__(self, out: Union[str, Path, IO[str]], header: Header, t0: float) -> None:
        self._file: IO[str]
        if isinstance(out, (str, Path)):
            self._own = True  # the writer opens the file, and closes it
            self._file = open(out, "w", encoding="ascii", newline="\n")
        else:
            self._own = False
            self._file = out
        self._t0 = t0
        self._lock = threading.Lock()
        if not header.started:
            header.started = datetime.fromtimestamp(t0, tz=timezone.utc).isoformat(timespec="milliseconds")
        self._file.write("\n".join(header.lines()) + "\n")
        self.events = 0

    def tap(self, direction: str, t: float, payload: object) -> None:
        if isinstance(payload, (bytes, bytearray)):
            event = Event(max(t - self._t0, 0.0), direction, bytes(payload))
        else:
            event = Event(max(t - self._t0, 0.0), "!", text=str(payload))
        with self._lock:
            if self._file.closed:
                return
            self._file.write("\n".join(format_event(event)) + "\n")
            self.events += 1

    def close(self) -> None:
        with self._lock:
            if self._own and not self._file.closed:
                self._file.close()
            elif not self._own:
                self._file.flush()


class RecordingError(ValueError):
    pass


def _parse_header(line: str, header: Header) -> None:
    key, sep, value = line[1:].strip().partition(":")
    if not sep:
        return
    key, value = key.strip(), value.strip()
    if key == "baudrate":
        header.baudrate = int(value)
    elif key == "options":
        header.options = json.loads(value) if value else {}
    elif key in ("port", "framing", "protocol", "started"):
        setattr(header, key, value)
    else:
        header.extra[key] = value


def read_recording(path: Union[str, Path]) -> tuple[Header, list[Event]]:
    """Parse a recording; events come back sorted by time (stable for equal times)."""
    header, events = Header(), []
    text = Path(path).read_text(encoding="ascii")
    lines = text.splitlines()
    if not lines or lines[0].strip() != MAGIC:
        raise RecordingError(f"{path}: not a checkpoint serial recording (first line must be {MAGIC!r})")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.startswith("#"):
            try:
                _parse_header(line, header)
            except ValueError as exc:
                raise RecordingError(f"{path}:{number}: bad header line: {exc}") from None
            continue
        parts = line.split(None, 2)
        try:
            offset, direction = float(parts[0]), parts[1]
            rest = parts[2] if len(parts) > 2 else ""
            if direction == "!":
                events.append(Event(offset, "!", text=rest))
            elif direction in "<>":
                events.append(Event(offset, direction, bytes.fromhex(rest.split("|", 1)[0])))
            else:
                raise ValueError(f"unknown direction {direction!r}")
        except (ValueError, IndexError) as exc:
            raise RecordingError(f"{path}:{number}: {exc}") from None
    events.sort(key=lambda e: e.offset)
    return header, _merge(events)


def _merge(events: list[Event]) -> list[Event]:
    """Join consecutive lines of one chunk (same time and direction) back together."""
    merged: list[Event] = []
    for event in events:
        last = merged[-1] if merged else None
        if last and event.direction != "!" and last.direction == event.direction and last.offset == event.offset:
            merged[-1] = Event(last.offset, last.direction, last.data + event.data)
        else:
            merged.append(event)
    return merged

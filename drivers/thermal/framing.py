"""Framers shared by several families: lines, and fixed-length replies."""

from __future__ import annotations

from drivers.thermal.base import Fault, Framer, Message


class LineFramer(Framer):
    """Split on ``\\n`` (a preceding ``\\r`` is dropped). Overlong lines are faults."""

    def __init__(self, max_line: int = 512) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._overlong = False

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        out: list[Message] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._buf += data[start:end]
            if self._overlong or len(self._buf) > self.max_line:
                out.append(Fault("overlong_lines", f"line longer than {self.max_line} bytes"))
            else:
                out.append(bytes(self._buf.rstrip(b"\r")))
            self._buf.clear()
            self._overlong = False
            start = end + 1
        self._buf += data[start:]
        if len(self._buf) > self.max_line:
            self._overlong = True
            del self._buf[:]
        return out

    def reset(self) -> None:
        self._buf.clear()
        self._overlong = False


class ReplyFramer(Framer):
    """Polled devices without terminators: one reply of ``size`` bytes per request."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = bytearray()
        self._done = False

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        out: list[Message] = []
        if self._done:
            if data:
                out.append(Fault("length_errors", f"{len(data)} unexpected bytes after a reply"))
            return out
        self._buf += data
        if len(self._buf) >= self.size:
            if len(self._buf) > self.size:
                out.append(Fault("length_errors", f"reply of {len(self._buf)} bytes, expected {self.size}"))
            out.append(bytes(self._buf[:self.size]))
            self._buf.clear()
            self._done = True
        return out

    def start_transaction(self) -> list[Fault]:
        faults = []
        if self._buf:
            faults.append(Fault("length_errors", f"short reply of {len(self._buf)} bytes"))
        self._buf.clear()
        self._done = False
        return faults

    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()
        self._done = False

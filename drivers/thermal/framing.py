"""Framers shared by several families: lines, and fixed-length replies."""

from __future__ import annotations

from typing import Optional

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
    """Polled devices without terminators: one reply of ``size`` bytes per request.

    A request opens a frame window; the reply is every byte that arrives in it.
    The window closes when the line has been silent for ``gap_s`` after the
    reply's last byte (``window_end``/``close_window``), at the reply timeout or
    at the next request. Only then is the reply delivered, and only when it is
    exactly ``size`` bytes: a longer one is a framing fault (``length_errors``)
    and none of it is decoded, since which bytes are the reading is unknown.
    Bytes outside any window (late bytes of an earlier reply, noise before the
    next request) are discarded (``stray_bytes``), never taken for a reading.
    """

    def __init__(self, size: int, gap_s: float = 0.02) -> None:
        self.size, self.gap_s = size, gap_s
        self._buf = bytearray()
        self._open = False  # a request was sent and its window has not closed
        self._overlong = False
        self._last = 0.0

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        if not data:
            return []
        if not self._open:
            return [Fault("stray_bytes", f"{len(data)} bytes outside a reply window, discarded")]
        self._buf += data
        self._last = t
        if len(self._buf) > self.size and not self._overlong:
            self._overlong = True
            return [Fault("length_errors", f"reply of {len(self._buf)}+ bytes within the frame window, "
                                           f"expected {self.size}: discarded", reply=True)]
        return []

    def window_end(self) -> Optional[float]:
        if self._open and len(self._buf) >= self.size:
            return self._last + self.gap_s
        return None  # nothing, or a short reply that may still grow until the reply timeout

    def close_window(self, t: float) -> list[Message]:
        if not self._open or len(self._buf) < self.size:
            return []  # a short reply stays for start_transaction to report
        self._open = False
        reply: list[Message] = [] if self._overlong else [bytes(self._buf)]
        self._buf.clear()
        return reply

    def start_transaction(self) -> list[Fault]:
        faults = []
        if self._buf and not self._overlong and len(self._buf) < self.size:
            faults.append(Fault("length_errors", f"short reply of {len(self._buf)} bytes"))
        self.reset()
        self._open = True
        return faults

    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()
        self._open = self._overlong = False

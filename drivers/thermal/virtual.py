"""A software scanner that speaks any protocol on a pseudo-terminal.

``VirtualScanner(protocol).start()`` returns a *stable* path (a symlink to the
current pty, see :class:`PtyDevice`); ``unplug()``/``replug()`` close and
reopen the pty behind it, as a pulled and reinserted USB cable would.

Push protocols send a reading on ``send_temperature()`` and, like the
MLX90614 sketch, keep sending it every ``idle_interval_s`` for ``hold_s``
(the visitor stays in front of the sensor), then an idle reading (``idle_c``,
None for none). Polled protocols (modbus-rtu, optris) answer each request
with the visitor's temperature for ``hold_s`` after ``send_temperature()``,
else with ``idle_c``. ``reply_mode`` = "silent" or "corrupt" simulates a
device that stops answering or answers with bad CRCs.
"""

from __future__ import annotations

import threading
import time
from typing import Optional

from drivers.thermal.pty_device import PtyServer
from drivers.thermal.registry import make_protocol


class VirtualScanner(PtyServer):
    thread_name = "virtual-scanner"

    def __init__(self, protocol: str, options: Optional[dict] = None, *, idle_c: Optional[float] = 26.0,
                 idle_interval_s: float = 0.5, ambient_c: float = 25.0, hold_s: float = 1.5,
                 banner: bool = True) -> None:
        self.protocol = make_protocol(protocol, options)
        self.idle_c, self.idle_interval_s, self.ambient_c, self.hold_s = idle_c, idle_interval_s, ambient_c, hold_s
        self.send_banner = banner
        self.reply_mode = "ok"
        self.requests = 0
        super().__init__("scanner")
        self._lock = threading.Lock()
        self._visitor: Optional[tuple[Optional[float], float, float]] = None  # object, ambient, until

    @property
    def device_path(self) -> str:
        return self.pty.device_path

    def _on_plugged(self) -> None:  # the sketch's banner, at start and after each replug
        if self.send_banner and not self.protocol.polled:
            self.pty.write(self.protocol.banner())

    def send_raw(self, data: bytes) -> bool:
        return self.pty.write(data)

    def send_temperature(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> None:
        """A visitor measured ``object_c`` (None or nan: a failed read)."""
        ambient = self.ambient_c if ambient_c is None else ambient_c
        with self._lock:
            self._visitor = (object_c, ambient, time.monotonic() + self.hold_s)
        if not self.protocol.polled:
            self.pty.write(self.protocol.encode(object_c, ambient))

    def current(self) -> tuple[Optional[float], float]:
        with self._lock:
            visitor = self._visitor
        if visitor is not None and time.monotonic() < visitor[2]:
            return visitor[0], visitor[1]
        return self.idle_c, self.ambient_c

    def _serve(self) -> None:
        pending = b""
        next_idle = time.monotonic() + self.idle_interval_s
        while not self._stop.is_set():
            data = self.pty.read(0.02)
            if not self.pty.plugged:
                pending = b""
            if data and self.protocol.polled:
                self.requests += 1
                reply, pending = self.protocol.answer((pending + data)[-256:], *self.current())
                if reply and self.reply_mode == "corrupt":
                    reply = reply[:-1] + bytes([reply[-1] ^ 0x01])
                if reply and self.reply_mode != "silent":
                    self.pty.write(reply)
            now = time.monotonic()
            if not self.protocol.polled and now >= next_idle:
                next_idle = now + self.idle_interval_s
                with self._lock:
                    visitor = self._visitor
                if visitor is not None and now < visitor[2]:
                    # like the real sensor, it keeps reading the visitor in front of it
                    self.pty.write(self.protocol.encode(visitor[0], visitor[1]))
                elif self.idle_c is not None:
                    self.pty.write(self.protocol.encode(self.idle_c, self.ambient_c))

"""A software scanner that speaks any protocol on a pseudo-terminal.

``VirtualScanner(protocol).start()`` returns a *stable* path: a symlink in a
private temp directory pointing at the current pty. ``unplug()`` closes the
pty (a connected reader sees the port vanish, as with a pulled USB cable) and
removes the link; ``replug()`` opens a new pty and re-points the link, so a
reader that keeps the same path gets the device back.

Push protocols send a reading on ``send_temperature()`` and, like the MLX90614
sketch, an idle reading (``idle_c``) every ``idle_interval_s``; polled
protocols (modbus-rtu, optris) answer each request with the visitor's
temperature for ``hold_s`` after ``send_temperature()``, else ``idle_c``.
"""

from __future__ import annotations

import os
import select
import shutil
import tempfile
import termios
import threading
import time
import tty
from typing import Optional

from drivers.thermal.registry import make_protocol

WRITE_WAIT_S = 0.2


class VirtualScanner:
    def __init__(self, protocol: str, options: Optional[dict] = None, *, idle_c: Optional[float] = 26.0,
                 idle_interval_s: float = 0.5, ambient_c: float = 25.0, hold_s: float = 1.5,
                 banner: bool = True) -> None:
        self.protocol = make_protocol(protocol, options)
        self.idle_c, self.idle_interval_s, self.ambient_c, self.hold_s = idle_c, idle_interval_s, ambient_c, hold_s
        self.send_banner = banner
        self.reply_mode = "ok"  # polled: "ok", "silent" (no reply) or "corrupt" (flip a bit)
        self.requests = 0
        self._lock = threading.RLock()
        self._master: Optional[int] = None
        self._slave: Optional[int] = None
        self._dir: Optional[str] = None
        self._visitor: Optional[tuple[float, Optional[float], float]] = None  # object, ambient, until
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.device_path = ""

    # lifecycle ----------------------------------------------------------------
    @property
    def path(self) -> str:
        """The stable path to open (a symlink to the current pty)."""
        return os.path.join(self._dir, "scanner") if self._dir else ""

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def start(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="checkpoint-vscanner-")
        self._open_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="virtual-scanner", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self._close_pty()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> "VirtualScanner":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def unplug(self) -> None:
        self._close_pty()

    def replug(self) -> str:
        self._open_pty()
        return self.path

    def _open_pty(self) -> None:
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline: bytes pass unchanged
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self.device_path = os.ttyname(slave)
            tmp = self.path + ".new"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.device_path, tmp)
            os.replace(tmp, self.path)
        if self.send_banner and not self.protocol.polled:
            self.send_raw(self.protocol.banner())

    def _close_pty(self) -> None:
        with self._lock:
            if self._master is None:
                return
            if os.path.lexists(self.path):
                os.unlink(self.path)
            for fd in (self._master, self._slave):
                os.close(fd)
            self._master = self._slave = None

    # device behaviour -------------------------------------------------------------
    def send_raw(self, data: bytes) -> bool:
        """Write bytes as the device; False when unplugged. Unread old data is dropped, as by a real UART."""
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_WAIT_S
        while view:
            with self._lock:
                if self._master is None:
                    return False
                try:
                    view = view[os.write(self._master, view):]
                    continue
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        termios.tcflush(self._slave, termios.TCIFLUSH)  # nobody is reading: drop the backlog
                        deadline = time.monotonic() + WRITE_WAIT_S
                master = self._master
            select.select([], [master], [], 0.01)
        return True

    def send_temperature(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> None:
        """A visitor measured ``object_c`` (None or nan: a failed read)."""
        ambient = self.ambient_c if ambient_c is None else ambient_c
        with self._lock:
            self._visitor = (object_c, ambient, time.monotonic() + self.hold_s)
        if not self.protocol.polled:
            self.send_raw(self.protocol.encode(object_c, ambient))

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
            master = self._master
            if master is None:
                pending = b""
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.02)
                data = os.read(master, 4096) if ready else b""
            except (OSError, ValueError):  # closed by unplug() meanwhile, or no reader on the slave
                data = b""
            if data and self.protocol.polled:
                pending = (pending + data)[-256:]
                self.requests += 1
                reply, pending = self.protocol.answer(pending, *self.current())
                if reply and self.reply_mode == "corrupt":
                    reply = reply[:-1] + bytes([reply[-1] ^ 0x01])
                if reply and self.reply_mode != "silent":
                    self.send_raw(reply)
            now = time.monotonic()
            if not self.protocol.polled and self.idle_c is not None and now >= next_idle:
                next_idle = now + self.idle_interval_s
                visitor = self._visitor
                if visitor is None or now >= visitor[2] - self.hold_s + self.idle_interval_s:
                    self.send_raw(self.protocol.encode(self.idle_c, self.ambient_c))

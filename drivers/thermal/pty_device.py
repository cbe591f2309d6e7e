"""A device end of a pseudo-terminal with a stable symlink, that can be unplugged and replugged."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import struct
import tempfile
import termios
import threading
import time
import tty
from typing import Optional

WRITE_WAIT_S = 0.2
DRAIN_POLL_S = 0.05
OPEN_SETTLE_S = 0.2  # after a reader opens the port: the time it takes to configure and flush it


class PtyDevice:
    """``start()`` returns a stable path (a symlink in a private temp dir) to the current pty.

    ``unplug()`` closes the pty and removes the link (an open reader sees the
    port vanish); ``replug()`` opens a new pty and re-points the link.
    """

    def __init__(self, name: str = "scanner") -> None:
        self.name = name
        self._lock = threading.RLock()
        self._master: Optional[int] = None
        self._slave: Optional[int] = None
        self._dir: Optional[str] = None
        self.device_path = ""

    @property
    def path(self) -> str:
        return os.path.join(self._dir, self.name) if self._dir else ""

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def start(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="checkpoint-pty-")
        self.replug()
        return self.path

    def stop(self) -> None:
        self.unplug()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def replug(self) -> str:
        with self._lock:
            if self._master is None:
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
        return self.path

    def unplug(self) -> None:
        with self._lock:
            if self._master is None:
                return
            if os.path.lexists(self.path):
                os.unlink(self.path)
            for fd in (self._master, self._slave):
                if fd is not None:  # the slave is None while wait_open has let go of it
                    os.close(fd)
            self._master = self._slave = None

    def wait_open(self, stop: Optional[threading.Event] = None, timeout: Optional[float] = None,
                  settle_s: float = OPEN_SETTLE_S) -> bool:
        """Wait until a reader has the port open; False on ``stop`` or ``timeout``.

        The device end cannot see an open directly while it holds the slave
        side itself, so it lets go of it: with no slave open the master reports
        POLLHUP, and the hang-up clears the moment a reader opens the slave. The
        device then takes the slave back (so ``unplug`` still hangs the reader
        up) and waits ``settle_s``: a reader flushes its input right after
        opening (pyserial does), which would drop the first bytes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._master is None:
                return False
            master = self._master
            if self._slave is not None:
                os.close(self._slave)
                self._slave = None
        poller = select.poll()
        poller.register(master, select.POLLHUP)
        opened = False
        try:
            while not (stop is not None and stop.is_set()):
                if deadline is not None and time.monotonic() > deadline:
                    break
                with self._lock:
                    if self._master != master:  # unplugged meanwhile
                        break
                    if not any(event & select.POLLHUP for _, event in poller.poll(0)):
                        opened = True
                        break
                time.sleep(0.01)
        finally:
            with self._lock:
                if self._master == master and self._slave is None:
                    self._slave = os.open(self.device_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        if opened and settle_s > 0:
            if stop is not None:
                stop.wait(settle_s)
            else:
                time.sleep(settle_s)
        return opened

    def wait_drained(self, timeout: float = 2.0, stop: Optional[threading.Event] = None) -> bool:
        """Wait until the reader has read every byte written (closing the pty would discard the rest)."""
        deadline = time.monotonic() + timeout
        empty = 0
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            time.sleep(DRAIN_POLL_S)  # the kernel moves written bytes to the reader's queue asynchronously
            with self._lock:
                if self._slave is None:
                    return False
                try:
                    waiting = struct.unpack("i", fcntl.ioctl(self._slave, termios.TIOCINQ, b"\0\0\0\0"))[0]
                except OSError:
                    return False
            empty = 0 if waiting else empty + 1
            if empty >= 2:
                return True
        return False

    def write(self, data: bytes) -> bool:
        """Write as the device; False when unplugged. A backlog nobody reads is dropped, as by a real UART."""
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
                        if self._slave is not None:  # None while wait_open has let go of it
                            termios.tcflush(self._slave, termios.TCIFLUSH)
                        deadline = time.monotonic() + WRITE_WAIT_S
                master = self._master
            select.select([], [master], [], 0.01)
        return True

    def read(self, timeout: float) -> bytes:
        """Bytes the host sent (b"" after ``timeout`` or when unplugged)."""
        with self._lock:  # never select on a closed fd whose number a replug may already have reused
            master = self._master
            if master is not None:
                try:
                    ready, _, _ = select.select([master], [], [], 0)
                    return os.read(master, 4096) if ready else self._wait_readable(master, timeout)
                except (OSError, ValueError):  # no host has the port open
                    return b""
        time.sleep(min(timeout, 0.02))
        return b""

    def _wait_readable(self, master: int, timeout: float) -> bytes:
        self._lock.release()  # let writers in while waiting; re-check the fd is still ours after
        try:
            select.select([master], [], [], timeout)
        except (OSError, ValueError):
            pass
        finally:
            self._lock.acquire()
        if self._master != master:
            return b""
        ready, _, _ = select.select([master], [], [], 0)
        return os.read(master, 4096) if ready else b""


class PtyServer:
    """The lifecycle every software device on a pseudo-terminal shares: a
    ``PtyDevice`` and a thread that serves it; start, stop, a context
    manager, unplug and replug. Subclasses give ``_serve`` (the loop, ending
    when ``self._stop`` is set) and may give ``_on_plugged`` (what the device
    says when its cable goes in, e.g. a banner)."""

    thread_name = "virtual-device"

    def __init__(self, pty_name: str) -> None:
        self.pty = PtyDevice(pty_name)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def path(self) -> str:
        return self.pty.path

    def start(self) -> str:
        """Open the pty and serve; returns the stable device path."""
        path = self.pty.start()
        self._on_plugged()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        return path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self.pty.stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def unplug(self) -> None:
        self.pty.unplug()

    def replug(self) -> str:
        path = self.pty.replug()
        self._on_plugged()
        return path

    def _on_plugged(self) -> None:
        pass

    def _serve(self) -> None:
        raise NotImplementedError

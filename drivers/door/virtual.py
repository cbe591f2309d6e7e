"""A software relay board on a pseudo-terminal: speaks LCUS or Modbus RTU, records what it was told.

``VirtualRelay("lcus").start()`` returns a stable path (a symlink to the
current pty, see :class:`~drivers.thermal.pty_device.PtyDevice`) for the real
driver to open; ``unplug()``/``replug()`` pull and reinsert its cable.
``frames`` holds every complete frame received (bytes, valid or not),
``states`` each channel's contact (True: closed, door open) and ``changes``
the (time, channel, state) history; ``on_change`` is called on each change.
Modbus: function 0x05 on our slave sets a coil and is echoed; another
function is answered with exception 01, a coil beyond ``channels`` with 02,
a value other than FF00/0000 with 03. ``reply_mode`` = "silent", "corrupt"
(the CRC's last byte flipped) or "exception" (04, device failure) simulates
a broken module. LCUS boards never answer; a frame with a wrong checksum is
ignored, as the boards do.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from checkpoint.waiting import wait_until
from drivers.thermal.protocols.modbus_rtu import crc16, with_crc
from drivers.thermal.pty_device import PtyServer

PROTOCOLS = ("lcus", "modbus-rtu")


class VirtualRelay(PtyServer):
    thread_name = "virtual-relay"

    def __init__(self, protocol: str = "lcus", slave: int = 1, channels: int = 8,
                 on_change: Optional[Callable[[int, bool], None]] = None) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"the virtual relay speaks {', '.join(PROTOCOLS)}, not {protocol!r}")
        self.protocol, self.slave, self.channels = protocol, slave, channels
        self.on_change = on_change
        self.reply_mode = "ok"
        super().__init__("relay")
        self.frames: list[bytes] = []
        self.rejected: list[bytes] = []  # frames with a bad checksum or CRC, or for another slave
        self.states: dict[int, bool] = {}
        self.changes: list[tuple[float, int, bool]] = []
        self._cond = threading.Condition()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
        """Wait until ``predicate()`` holds, woken by each frame received."""
        return wait_until(self._cond, predicate, timeout)

    def _serve(self) -> None:
        pending = b""
        while not self._stop.is_set():
            data = self.pty.read(0.02)
            if not self.pty.plugged:
                pending = b""
                continue
            if data:
                pending = self._lcus(pending + data) if self.protocol == "lcus" else self._modbus(pending + data)

    def _set(self, channel: int, on: bool) -> None:
        changed = self.states.get(channel) != on
        self.states[channel] = on
        if changed:
            self.changes.append((time.time(), channel, on))
            if self.on_change is not None:
                self.on_change(channel, on)

    def _lcus(self, buf: bytes) -> bytes:
        while len(buf) >= 4:
            if buf[0] != 0xA0:
                buf = buf[1:]
                continue
            frame, buf = buf[:4], buf[4:]
            with self._cond:
                self.frames.append(frame)
                if sum(frame[:3]) & 0xFF == frame[3] and 1 <= frame[1] <= self.channels and frame[2] in (0, 1):
                    self._set(frame[1], frame[2] == 1)
                else:
                    self.rejected.append(frame)
                self._cond.notify_all()
        return buf

    def _modbus(self, buf: bytes) -> bytes:
        while len(buf) >= 8:
            frame = buf[:8]
            if frame[0] != self.slave or crc16(frame[:6]) != int.from_bytes(frame[6:], "little"):
                with self._cond:
                    if frame[0] == self.slave:
                        self.rejected.append(frame)
                buf = buf[1:]  # not a request for us, or noise: resync
                continue
            buf = buf[8:]
            reply = self._answer(frame)
            if self.reply_mode == "corrupt":
                reply = reply[:-1] + bytes([reply[-1] ^ 0x01])
            if self.reply_mode != "silent":
                self.pty.write(reply)
        return buf

    def _answer(self, frame: bytes) -> bytes:
        with self._cond:
            self.frames.append(frame)
            self._cond.notify_all()
            if self.reply_mode == "exception":
                return with_crc(bytes([self.slave, frame[1] | 0x80, 4]))
            if frame[1] != 0x05:
                return with_crc(bytes([self.slave, frame[1] | 0x80, 1]))
            coil, value = int.from_bytes(frame[2:4], "big"), frame[4:6]
            if coil >= self.channels:
                return with_crc(bytes([self.slave, 0x85, 2]))
            if value not in (b"\xff\x00", b"\x00\x00"):
                return with_crc(bytes([self.slave, 0x85, 3]))
            self._set(coil, value == b"\xff\x00")
            return frame  # the echo

"""``gy-mcu90640``: GY-MCU90640 module, 1544-byte little-endian binary frames.

Frame layout (115200 or 460800 baud)::

    5A 5A | size u16 = 0x0602 (1538) | 768 x int16 pixels, °C x 100 |
    ambient int16, °C x 100 | checksum u16

Checksum rule (decided here, following the vendor's description "sum of the
preceding data"): the 16-bit wrap-around sum of the 771 little-endian words
that precede it — header word, size word, 768 pixels and the ambient word.
Option ``checksum = "none"`` skips the check for modules that differ.

The framer hunts for ``5A 5A``; a wrong size or checksum drops only the first
header byte and hunts again, so garbage and cut frames resynchronise on the
next real header. ``A5 35 02 DC`` (sent at start) switches on auto-push.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
from pydantic import Field

from drivers.thermal.base import Fault, Framer, Message, Result, Sample, ScannerProtocol
from drivers.thermal.protocols.mlx90640_text import COLS, ROWS, ArrayOptions, synthetic_frame
from drivers.thermal.registry import register

HEADER = b"\x5a\x5a"
SIZE = ROWS * COLS * 2 + 2  # 1538 bytes of payload
FRAME_LEN = 4 + SIZE + 2  # 1544
AUTO_PUSH = bytes.fromhex("A5 35 02 DC")


def checksum16(data: bytes) -> int:
    """16-bit sum of the little-endian words of ``data`` (even length)."""
    words = np.frombuffer(data, dtype="<u2")
    return int(words.sum(dtype=np.uint64) & 0xFFFF)


class GyOptions(ArrayOptions):
    checksum: Literal["sum16", "none"] = Field("sum16", description="Frame checksum rule.")
    auto_push: bool = Field(True, description="Send A5 35 02 DC after opening to start continuous output.")


class GyFramer(Framer):
    def __init__(self, check: bool = True) -> None:
        self.check = check
        self._buf = bytearray()

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        out: list[Message] = []
        buf = self._buf
        buf += data
        while True:
            start = buf.find(HEADER)
            if start < 0:
                keep = 1 if buf.endswith(HEADER[:1]) else 0
                if len(buf) - keep:
                    out.append(Fault("garbage_bytes", f"{len(buf) - keep} bytes outside a frame"))
                del buf[:len(buf) - keep]
                return out
            if start:
                out.append(Fault("garbage_bytes", f"{start} bytes before a frame header"))
                del buf[:start]
            if len(buf) < 4:
                return out
            size = buf[2] | buf[3] << 8
            if size != SIZE:
                out.append(Fault("length_errors", f"frame size field {size}, expected {SIZE}"))
                del buf[:1]
                continue
            if len(buf) < FRAME_LEN:
                return out
            frame = bytes(buf[:FRAME_LEN])
            if self.check and checksum16(frame[:-2]) != (frame[-2] | frame[-1] << 8):
                out.append(Fault("crc_errors", "frame checksum mismatch"))
                del buf[:1]
                continue
            out.append(frame)
            del buf[:FRAME_LEN]

    def reset(self) -> None:
        self._buf.clear()


@register
class GyMcu90640Protocol(ScannerProtocol):
    key = "gy-mcu90640"
    Options = GyOptions
    options: GyOptions
    is_array = True

    def framer(self, baudrate: int = 115200) -> GyFramer:
        return GyFramer(self.options.checksum == "sum16")

    def startup_bytes(self) -> bytes:
        return AUTO_PUSH if self.options.auto_push else b""

    def parse(self, message: bytes) -> Result:
        if len(message) != FRAME_LEN or not message.startswith(HEADER):
            return Fault("length_errors", f"frame of {len(message)} bytes")
        values = np.frombuffer(message, dtype="<i2", count=ROWS * COLS + 1, offset=4)
        frame = (values[:-1].astype(np.float32) / 100.0).reshape(ROWS, COLS)
        return Sample(frame=frame, ambient_c=float(values[-1]) / 100.0)

    # device side ------------------------------------------------------------
    def encode(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> bytes:
        return encode_frame(synthetic_frame(object_c, ambient_c), 25.0 if ambient_c is None else ambient_c)


def encode_frame(frame: np.ndarray, ambient_c: float) -> bytes:
    pixels = np.nan_to_num(np.asarray(frame, dtype=np.float64), nan=-327.68).reshape(-1)
    words = np.clip(np.round(np.append(pixels, ambient_c) * 100), -32768, 32767).astype("<i2")
    body = HEADER + SIZE.to_bytes(2, "little") + words.tobytes()
    return body + checksum16(body).to_bytes(2, "little")

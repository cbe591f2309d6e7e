"""``mlx90640-text``: a 32x24 MLX90640 array printed as text (Adafruit simpletest, 115200 baud).

A frame is a separator line (32 or more ``-`` or ``=``) followed by 24 lines
of 32 comma-separated values (``36.6, 36.4, ...``). Lines outside a frame
(``Read 2 frames in 0.50 s``) are ignored; a row with the wrong number of
values drops the frame (``length_errors``). ``nan`` pixels are kept as NaN and
skipped by the hot-spot search.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from pydantic import Field

from drivers.thermal.base import CommonOptions, Fault, Framer, Message, Result, Sample, ScannerProtocol
from drivers.thermal.framing import LineFramer
from drivers.thermal.registry import register

ROWS, COLS = 24, 32


class ArrayOptions(CommonOptions):
    keep_frame: bool = Field(False, description="Keep the whole thermal array in ThermalReading.frame.")
    window: tuple[float, float, float, float] = Field(
        (0.25, 0.2, 0.5, 0.6), description="Central region (x, y, w, h fractions) searched when no face region is set.")


def _is_separator(line: bytes) -> bool:
    stripped = line.strip()
    return len(stripped) >= COLS and (set(stripped) == {0x2D} or set(stripped) == {0x3D})


class FrameFramer(Framer):
    """Lines in; one message per complete frame: the 24 row lines joined by ``\\n``."""

    def __init__(self) -> None:
        self._lines = LineFramer(max_line=COLS * 12)
        self._rows: Optional[list[bytes]] = None

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        out: list[Message] = []
        for line in self._lines.feed(data, t):
            if isinstance(line, Fault):
                if self._rows is not None:
                    out.append(Fault("length_errors", "overlong row in a frame"))
                self._rows = None
                continue
            if _is_separator(line):
                if self._rows:
                    out.append(Fault("length_errors", f"frame cut after {len(self._rows)} rows"))
                self._rows = []
                continue
            if self._rows is None or not line.strip():
                continue  # status lines between frames, blank lines
            if line.count(b",") < COLS - 1 or line.count(b",") > COLS:
                out.append(Fault("length_errors", f"row {len(self._rows)} has {line.count(b',') + 1} fields"))
                self._rows = None
                continue
            self._rows.append(line)
            if len(self._rows) == ROWS:
                out.append(b"\n".join(self._rows))
                self._rows = None
        return out

    def reset(self) -> None:
        self._lines.reset()
        self._rows = None


def _pixel(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return math.nan if text.lower() in ("nan", "inf", "-inf", "ovf") else math.inf
    return value if math.isfinite(value) else math.nan


@register
class Mlx90640TextProtocol(ScannerProtocol):
    key = "mlx90640-text"
    Options = ArrayOptions
    is_array = True

    def framer(self, baudrate: int = 115200) -> FrameFramer:
        return FrameFramer()

    def parse(self, message: bytes) -> Result:
        try:
            text = message.decode("ascii")
        except UnicodeDecodeError:
            return Fault("garbage_lines", "non-ASCII bytes in a frame")
        rows = text.split("\n")
        if len(rows) != ROWS:
            return Fault("length_errors", f"frame of {len(rows)} rows")
        frame = np.empty((ROWS, COLS), dtype=np.float32)
        for r, row in enumerate(rows):
            fields = [f for f in row.split(",")]
            if fields and not fields[-1].strip():
                fields.pop()
            if len(fields) != COLS:
                return Fault("length_errors", f"row {r} has {len(fields)} values")
            values = [_pixel(f) for f in fields]
            if any(v == math.inf for v in values):
                return Fault("parse_errors", f"row {r} has a value that is not a number")
            frame[r] = values
        if np.isnan(frame).all():
            return Fault("failed_reads", "every pixel is nan")
        return Sample(frame=frame)

    # device side ------------------------------------------------------------
    def encode(self, object_c: Optional[float], ambient_c: Optional[float] = None) -> bytes:
        frame = synthetic_frame(object_c, ambient_c)
        lines = ["-" * COLS]
        for row in frame:
            lines.append("".join("nan, " if math.isnan(v) else f"{v:.1f}, " for v in row))
        return ("\r\n".join(lines) + "\r\n").encode()


def synthetic_frame(object_c: Optional[float], ambient_c: Optional[float] = None) -> np.ndarray:
    """A 24x32 scene: background at ambient, a face blob whose hottest pixel is ``object_c``."""
    amb = 25.0 if ambient_c is None else ambient_c
    frame = np.full((ROWS, COLS), amb, dtype=np.float32)
    yy, xx = np.mgrid[0:ROWS, 0:COLS]
    if object_c is None or not math.isfinite(object_c):
        return np.full((ROWS, COLS), np.nan, dtype=np.float32)
    dist2 = ((xx - 15.5) / 5.0) ** 2 + ((yy - 11.5) / 6.0) ** 2
    blob = amb + (object_c - amb) * np.clip(1.0 - 0.5 * dist2, 0.0, 1.0)
    frame = np.where(dist2 < 2.0, blob, frame).astype(np.float32)
    frame[11:13, 15:17] = object_c
    return frame

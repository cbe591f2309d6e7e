"""``optris``: Optris CT/CS pyrometers, binary protocol.

Send ``01`` (read process temperature); the device answers two bytes and
T = (b1 * 256 + b2 - 1000) / 10 °C, e.g. ``05 56`` = 36.6 °C. There is no
terminator: a reply is every byte between the request and a silence of
``FRAME_GAP_S`` (or the reply timeout), and it must be exactly two bytes. A
longer reply is a framing fault, not decoded; bytes outside a reply's window
are discarded (``drivers.thermal.framing.ReplyFramer``). CS models take their
power from DTR, so DTR is set (option ``dtr``).
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from drivers.thermal.base import CommonOptions, Fault, Result, Sample, ScannerProtocol
from drivers.thermal.framing import ReplyFramer
from drivers.thermal.registry import register

READ_TEMPERATURE = b"\x01"
# silence that ends a reply: above the 16 ms a USB serial adapter may hold bytes back (FTDI latency timer),
# and at least 3.5 character times at slow rates
FRAME_GAP_S = 0.02


def frame_gap_s(baudrate: int) -> float:
    return max(FRAME_GAP_S, 3.5 * 11 / baudrate)


class OptrisOptions(CommonOptions):
    dtr: bool = Field(True, description="Set DTR after opening (powers CS models).")
    poll_interval_s: float = Field(0.5, gt=0, le=60, description="Seconds between requests for a reading.")
    reply_timeout_s: float = Field(0.3, gt=0, le=10, description="A request not answered in this time is a timeout.")


def decode_temperature(reply: bytes) -> float:
    return ((reply[0] << 8 | reply[1]) - 1000) / 10.0


def encode_temperature(value_c: float) -> bytes:
    raw = max(0, min(0xFFFF, int(round(value_c * 10)) + 1000))
    return raw.to_bytes(2, "big")


@register
class OptrisProtocol(ScannerProtocol):
    key = "optris"
    Options = OptrisOptions
    options: OptrisOptions
    polled = True

    def framer(self, baudrate: int = 9600) -> ReplyFramer:
        return ReplyFramer(2, frame_gap_s(baudrate))

    def poll_request(self) -> bytes:
        return READ_TEMPERATURE

    def wants_dtr(self) -> Optional[bool]:
        return self.options.dtr

    def parse(self, message: bytes) -> Result:
        if len(message) != 2:
            return Fault("length_errors", f"reply of {len(message)} bytes")
        return Sample(object_c=decode_temperature(message))

    def answer(self, request: bytes, object_c: Optional[float],
               ambient_c: Optional[float] = None) -> tuple[bytes, bytes]:
        reply = b""
        for byte in request:
            if byte == READ_TEMPERATURE[0]:
                reply += encode_temperature(object_c if object_c is not None else -100.0)
        return reply, b""

"""Bytes from the port to results: the one path shared by the live reader and
fast replay, so a replayed recording decodes exactly as it did live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Union

from checkpoint.messages import ThermalReading
from drivers.thermal.base import Fault, Framer, ScannerProtocol
from drivers.thermal.calibrate import Calibrator


@dataclass(frozen=True)
class Decoded:
    """What one framed message came to."""

    reply: bool  # the device answered (a reply with a bad CRC counts: it came, damaged)
    sample: bool  # it parsed into a measurement: the sensor works, even if no reading results
    result: Optional[Union[Fault, ThermalReading]]  # a fault, a calibrated reading, or nothing to report


def decode_chunk(protocol: ScannerProtocol, framer: Framer, calibrator: Calibrator,
                 data: bytes, t: float) -> Iterator[Decoded]:
    """Feed one chunk received at ``t`` and decode every message it completes."""
    for message in framer.feed(data, t):
        if isinstance(message, Fault):
            yield Decoded(reply=message.kind == "crc_errors", sample=False, result=message)
            continue
        parsed = protocol.parse(message)
        if parsed is None or isinstance(parsed, Fault):
            yield Decoded(reply=True, sample=False, result=parsed)
            continue
        reading = calibrator.reading(parsed, t)
        yield Decoded(reply=True, sample=not isinstance(reading, Fault), result=reading)

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
    """Feed one chunk received at ``t`` and decode every message it completes.

    The silence before the chunk comes first: a reply it completed is not extended by these bytes.
    """
    yield from decode_silence(protocol, framer, calibrator, t)
    yield from _decode(protocol, calibrator, framer.feed(data, t), t)


def decode_silence(protocol: ScannerProtocol, framer: Framer, calibrator: Calibrator,
                   t: float, final: bool = False) -> Iterator[Decoded]:
    """Nothing arrived until ``t``: decode what that silence completes (framers that frame by time).

    ``final``: the window ends at ``t`` whatever the silence (the reply timeout, the next request).
    A message's time is when its silence completed it, so live and fast replay agree.
    """
    end = framer.window_end()
    if end is None or (end > t and not final):
        return iter(())
    at = min(end, t)
    return _decode(protocol, calibrator, framer.close_window(at), at)


def _decode(protocol: ScannerProtocol, calibrator: Calibrator, messages, t: float) -> Iterator[Decoded]:
    for message in messages:
        if isinstance(message, Fault):
            yield Decoded(reply=message.reply or message.kind == "crc_errors", sample=False, result=message)
            continue
        parsed = protocol.parse(message)
        if parsed is None or isinstance(parsed, Fault):
            yield Decoded(reply=True, sample=False, result=parsed)
            continue
        reading = calibrator.reading(parsed, t)
        yield Decoded(reply=True, sample=not isinstance(reading, Fault), result=reading)

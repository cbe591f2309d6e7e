"""Replay a serial recording through the real framers and parsers.

* ``iter_recording(path, config, t0)`` — as fast as possible: yields
  ``ThermalReading`` and ``SensorStatus`` in time order with
  ``t = t0 + recorded offset`` (a reading's time is that of the chunk holding
  its last byte). ``! unplugged`` becomes ``SensorStatus(t, "scanner", "down")``;
  ``! replugged`` (or the first good reading after an unplug) ``"ok"``.
* ``ReplayDevice(path).start()`` — at real speed (or ``speed`` times faster):
  serves the recording on a pseudo-terminal so the live reader can be tested
  on it. It waits for a reader to open the port (``wait_open``, the default)
  so the start of the recording is not lost, then plays: push recordings are
  written at their times; polled recordings answer each request the reader
  sends with the next recorded reply.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Union

from checkpoint.config import ScannerConfig
from checkpoint.messages import SensorStatus, ThermalReading
from drivers.thermal.base import Fault
from drivers.thermal.calibrate import Calibrator
from drivers.thermal.decoding import decode_chunk, decode_silence
from drivers.thermal.pty_device import PtyDevice
from drivers.thermal.recording import Event, read_recording
from drivers.thermal.registry import make_protocol

COMPONENT = "scanner"


def _protocol_for(header_protocol: str, header_options: dict, config: ScannerConfig):
    if header_protocol and header_protocol != config.protocol:
        raise ValueError(f"recording is protocol {header_protocol!r} but the configuration says {config.protocol!r}")
    return make_protocol(config.protocol, {**header_options, **config.options})


def iter_recording(path: Union[str, Path], config: ScannerConfig, t0: float,
                   faults: Optional[dict[str, int]] = None) -> Iterator[Union[ThermalReading, SensorStatus]]:
    """Fast replay. ``faults`` (optional) collects fault counts by kind, as the live reader's health counters."""
    header, events = read_recording(path)
    protocol = _protocol_for(header.protocol, header.options, config)
    calibrator = Calibrator(config, protocol)
    framer = protocol.framer(header.baudrate)
    down = False
    awaiting = False  # a request was sent and no reply completed yet

    def count(fault: Fault) -> None:
        if faults is not None:
            faults[fault.kind] = faults.get(fault.kind, 0) + 1

    def results(decoded_messages):
        nonlocal awaiting, down
        for decoded in decoded_messages:
            awaiting = awaiting and not decoded.reply
            result = decoded.result
            if isinstance(result, Fault):
                count(result)
            elif result is not None:
                if down:
                    down = False
                    yield SensorStatus(result.t, COMPONENT, "ok", "data again")
                yield result

    for event in events:
        t = t0 + event.offset
        # silence until this event: it may complete a reply framed by time, as the live reader's idle reads do
        yield from results(decode_silence(protocol, framer, calibrator, t, final=event.direction == ">"))
        if event.direction == "!":
            word = event.text.split(" ", 1)[0]
            if word == "unplugged" and not down:
                down = True
                framer.reset()
                yield SensorStatus(t, COMPONENT, "down", event.text)
            elif word == "replugged" and down:
                down = False
                framer.reset()
                yield SensorStatus(t, COMPONENT, "ok", "replugged")
            continue
        if event.direction == ">":
            if awaiting and not down:
                count(Fault("timeouts", "no reply before the next request"))
            awaiting = protocol.polled
            for fault in framer.start_transaction():
                count(fault)
            continue
        yield from results(decode_chunk(protocol, framer, calibrator, event.data, t))
    yield from results(decode_silence(protocol, framer, calibrator, float("inf")))


class ReplayDevice:
    """Serve a recording on a pty at ``speed`` x real time (push) or answering polls (polled)."""

    def __init__(self, path: Union[str, Path], speed: float = 1.0, loop: bool = False,
                 wait_open: bool = True) -> None:
        self.header, self.events = read_recording(path)
        self.speed = speed
        self.loop = loop
        self.wait_open = wait_open
        self.pty = PtyDevice("replay")
        self.done = threading.Event()
        self.playing = threading.Event()  # set once a reader opened the port (or at once without wait_open)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.polled = any(e.direction == ">" for e in self.events)

    def start(self) -> str:
        path = self.pty.start()
        self._thread = threading.Thread(target=self._run, name="serial-replay", daemon=True)
        self._thread.start()
        return path

    @property
    def path(self) -> str:
        return self.pty.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.pty.stop()

    def __enter__(self) -> "ReplayDevice":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _event(self, event: Event) -> None:
        word = event.text.split(" ", 1)[0]
        if word == "unplugged":
            self.pty.unplug()
        elif word == "replugged":
            self.pty.replug()

    def _run(self) -> None:
        if self.wait_open and not self.pty.wait_open(self._stop):
            self.done.set()
            return
        self.playing.set()
        while not self._stop.is_set():
            self._serve_polled() if self.polled else self._serve_push()
            if not self.loop:
                break
        self.pty.wait_drained(stop=self._stop)  # a pty closed with unread bytes discards them
        self.done.set()

    def _serve_push(self) -> None:
        start = time.monotonic()
        for event in self.events:
            if self._stop.wait(max(0.0, start + event.offset / self.speed - time.monotonic())):
                return
            if event.direction == "<":
                self.pty.write(event.data)
            elif event.direction == "!":
                self._event(event)

    def _serve_polled(self) -> None:
        """Each '>' in the recording waits for a request from the host, then plays what followed it."""
        start, shift = time.monotonic(), 0.0
        for event in self.events:
            if event.direction == ">":
                while not self._stop.is_set() and not (self.pty.plugged and self.pty.read(0.05)):
                    pass
                shift = time.monotonic() - start - event.offset / self.speed
                continue
            if self._stop.wait(max(0.0, start + shift + event.offset / self.speed - time.monotonic())):
                return
            if event.direction == "<":
                self.pty.write(event.data)
            else:
                self._event(event)

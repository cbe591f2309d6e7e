"""The live reader: one thread per scanner that opens, reads, polls and reconnects.

It never raises into the agent and never blocks it. Health goes to a
``ComponentReporter``: ``ok`` while good readings flow, ``degraded`` on bad
data (three faults in a row) or silence beyond ``timeout_s``, ``down`` while
the port cannot be opened or was lost, or while the blackbody is lost (three
frames in a row out of tolerance: ``CLOSING_FAULTS``). Every fault is counted
(``reporter.count(kind)``) and logged once per episode. A missing local device
is watched every 0.1 s so a replugged device is read again at once; failed
opens back off up to ``reconnect_max_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

import serial

from checkpoint.backoff import Backoff
from checkpoint.config import ScannerConfig
from checkpoint.health import ComponentReporter
from checkpoint.messages import ThermalReading
from drivers.thermal.base import Fault, Framer, ScannerProtocol
from drivers.thermal.calibrate import REFERENCE_LOST, Calibrator, Region
from drivers.thermal.decoding import Decoded, decode_chunk, decode_silence
from drivers.thermal.link import close_port, device_missing, open_port
from drivers.thermal.protocols.modbus_rtu import gap_s

log = logging.getLogger("drivers.thermal")
Tap = Callable[[str, float, object], None]  # (direction "<" ">" "!", t, bytes or event text)
FAULTS_TO_DEGRADE = 3
CLOSING_FAULTS = frozenset({REFERENCE_LOST})  # faults that make the scanner down, not degraded
LOST = (serial.SerialException, OSError)


class ScannerReader:
    def __init__(self, config: ScannerConfig, clock, reporter: ComponentReporter,
                 on_reading: Callable[[ThermalReading], None], protocol: Optional[ScannerProtocol],
                 url: Optional[str] = None, tap: Optional[Tap] = None, on_stop: Optional[Callable[[], None]] = None):
        self.config, self.clock, self.reporter = config, clock, reporter
        self.on_reading, self.protocol, self.tap = on_reading, protocol, tap
        self.url = url or config.url
        self.calibrator = Calibrator(config, protocol) if protocol else None
        self._on_stop = on_stop
        self._stop = threading.Event()
        self.connected = threading.Event()  # set while the port is open (tests and tools wait on it)
        self._thread: Optional[threading.Thread] = None
        self._port = None
        self._logged: set[str] = set()
        self._faults_in_row = 0
        self._last_good = 0.0
        self._silent = False
        self._flapping = Backoff(config.reconnect_max_s)  # sessions that fail before any good reading

    # public ---------------------------------------------------------------
    def start(self) -> "ScannerReader":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"thermal-{self.config.sensor_id}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._on_stop is not None:
            self._on_stop()
            self._on_stop = None

    def set_face_region(self, region: Optional[Region]) -> None:
        if self.calibrator is not None:
            self.calibrator.set_face_region(region)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # thread -----------------------------------------------------------------
    def _emit(self, direction: str, t: float, payload: object) -> None:
        if self.tap is None:
            return
        try:
            self.tap(direction, t, payload)
        except Exception:  # a recording that cannot be written (disk full) must not stop the scanner
            self.reporter.count("tap_errors")
            log.exception("recording tap failed; recording stopped, reading goes on")
            self.tap = None

    def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_max_s)  # failed opens
        opened_before = False
        while not self._stop.is_set():
            t = self.clock.now()
            if device_missing(self.url):
                self._down(t, f"{self.url}: device not present")
                self._stop.wait(0.1)
                continue
            try:
                port = open_port(self.url, self.config.baudrate, self.protocol.wants_dtr() if self.protocol else None)
            except (ValueError, *LOST) as exc:
                self.reporter.count("open_failures")
                self._down(t, f"cannot open {self.url}: {exc}")
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            if opened_before:
                self._emit("!", self.clock.now(), "replugged")
            opened_before = True
            self._logged.discard("down")
            self.connected.set()
            try:
                self._session(port)
            except LOST as exc:
                t = self.clock.now()
                self.reporter.count("disconnects")
                self._emit("!", t, f"unplugged {exc}".strip())
                self._down(t, f"lost {self.url}: {exc}")
                if not device_missing(self.url):  # opened, then failed before any reading: do not spin
                    self._stop.wait(self._flapping.next())
            except Exception as exc:  # a bug must not end the reader: log once, show it, reconnect
                self.reporter.count("internal_errors")
                if "internal" not in self._logged:
                    self._logged.add("internal")
                    log.exception("thermal reader error on %s; reconnecting", self.url)
                self.reporter.degraded(self.clock.now(), f"internal error: {type(exc).__name__}: {exc}")
                self._stop.wait(self._flapping.next())
            finally:
                self.connected.clear()
                close_port(port)

    def _down(self, t: float, message: str) -> None:
        if "down" not in self._logged:
            self._logged.add("down")
            self._faults_in_row = 0
        self.reporter.down(t, message)

    def _session(self, port) -> None:
        framer = self.protocol.framer(self.config.baudrate) if self.protocol else None
        now = self.clock.now()
        self._last_good, self._silent = now, False
        if self.protocol and self.protocol.startup_bytes():
            data = self.protocol.startup_bytes()
            port.write(data)
            self._emit(">", self.clock.now(), data)
        if self.protocol is not None and self.protocol.polled:
            self._poll_loop(port, framer)
        else:
            while not self._stop.is_set():
                self._read_once(port, framer)
                self._check_silence()

    def _read_once(self, port, framer: Optional[Framer]) -> int:
        """Read what is there (waiting up to the port timeout); returns messages completed."""
        data = port.read(max(1, port.in_waiting))
        t = self.clock.now()
        if data:
            self._emit("<", t, data)
        if framer is None or self.protocol is None or self.calibrator is None:
            return 0  # no protocol: the bytes are only tapped
        if not data:  # silence: it may complete a reply that is framed by time (Optris)
            return self._results(decode_silence(self.protocol, framer, self.calibrator, t), t)
        return self._results(decode_chunk(self.protocol, framer, self.calibrator, data, t), t)

    def _results(self, decoded_messages, t: float) -> int:
        completed = 0
        for decoded in decoded_messages:
            completed += decoded.reply
            self._result(decoded, t)
        return completed

    def _poll_loop(self, port, framer: Optional[Framer]) -> None:
        protocol, calibrator = self.protocol, self.calibrator
        if protocol is None or calibrator is None or framer is None:
            return  # not reached: _session polls only with a (polled) protocol, which gives both
        interval, reply_timeout = protocol.poll_interval_s(), protocol.reply_timeout_s()
        gap = gap_s(self.config.baudrate)
        request = protocol.poll_request()
        next_poll = time.monotonic()
        while not self._stop.is_set():
            if self._stop.wait(max(0.0, next_poll - time.monotonic())):
                return
            next_poll = max(next_poll + interval, time.monotonic())
            time.sleep(gap)  # 3.5 character times of silence before a request
            # stray bytes (a late end of the last reply, noise) are read now, outside the next reply's window
            while port.in_waiting and not self._stop.is_set():
                self._read_once(port, framer)
            self._results(decode_silence(protocol, framer, calibrator, self.clock.now(), final=True),
                          self.clock.now())
            for fault in framer.start_transaction():
                self._fault(fault, self.clock.now())
            port.write(request)
            self._emit(">", self.clock.now(), request)
            deadline = time.monotonic() + reply_timeout
            completed = 0
            while not completed and time.monotonic() < deadline and not self._stop.is_set():
                completed = self._read_once(port, framer)
            if not completed and not self._stop.is_set():  # the reply timeout ends the reply's window
                t = self.clock.now()
                completed = self._results(decode_silence(protocol, framer, calibrator, t, final=True), t)
            if not completed and not self._stop.is_set():
                self._fault(Fault("timeouts", f"no reply within {reply_timeout} s"), self.clock.now())
            self._check_silence()

    # results -----------------------------------------------------------------
    def _result(self, decoded: Decoded, t: float) -> None:
        if isinstance(decoded.result, Fault):
            self._fault(decoded.result, t)
            return
        if not decoded.sample:
            return
        self._good(t)
        if decoded.result is None:
            return
        try:
            self.on_reading(decoded.result)
        except Exception:
            self.reporter.count("callback_errors")
            if "callback" not in self._logged:
                self._logged.add("callback")
                log.exception("on_reading callback failed (logged once)")

    def _good(self, t: float) -> None:
        self._last_good, self._silent, self._faults_in_row = t, False, 0
        self._logged &= {"callback"}  # a new fault episode may log again; a callback bug stays logged once
        self._flapping.reset()  # on data, not on open: a port that opens and fails at once backs off
        self.reporter.ok(t)

    def _fault(self, fault: Fault, t: float) -> None:
        self.reporter.count(fault.kind)
        self._faults_in_row += 1
        if fault.kind not in self._logged:
            self._logged.add(fault.kind)
            log.warning("%s on %s: %s (further %s are counted, not logged)",
                        fault.kind, self.url, fault.detail, fault.kind)
        if self._faults_in_row >= FAULTS_TO_DEGRADE:
            if fault.kind in CLOSING_FAULTS:  # the readings cannot be trusted at all: the gate closes
                self.reporter.down(t, f"{fault.kind}: {fault.detail}")
            else:
                self.reporter.degraded(t, f"{fault.kind}: {fault.detail}")

    def _check_silence(self) -> None:
        t = self.clock.now()
        if self.protocol is None or self._silent or t - self._last_good <= self.config.timeout_s:
            return
        self._silent = True
        self.reporter.count("silences")
        self.reporter.degraded(t, f"no reading for {self.config.timeout_s:g} s")

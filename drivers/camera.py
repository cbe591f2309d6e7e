"""Camera capture through OpenCV: device index, stream URL or video file.

One thread reads frames as fast as the source delivers them and keeps only the
newest (no queue, so no growing lag); video files are paced at their own fps
unless ``realtime=False``. A watchdog reports a stall when no frame arrived for
``CameraConfig.stall_s``; a failed read or open marks the camera down and it is
reopened with exponential backoff up to a cap. Frame times come from the
``Clock``. Nothing here raises into the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from checkpoint.backoff import Backoff
from checkpoint.clock import Clock
from checkpoint.config import CameraConfig
from checkpoint.health import ComponentReporter

log = logging.getLogger(__name__)

Frame = tuple[float, np.ndarray]


def parse_source(source: str) -> Union[int, str]:
    """'0' -> device index 0; anything else (URL or file path) is passed as is."""
    source = source.strip()
    if source == "simulated":
        raise ValueError("camera source 'simulated' is not an OpenCV source")
    return int(source) if source.isdigit() else source


def is_stream_url(source: Union[int, str]) -> bool:
    return isinstance(source, str) and "://" in source


def open_capture(source: Union[int, str], config: CameraConfig, timeout_ms: int) -> cv2.VideoCapture:
    if is_stream_url(source):
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    cap = cv2.VideoCapture(source)
    if isinstance(source, int) and cap.isOpened():
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, config.height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return cap


class CameraCapture:
    def __init__(self, config: CameraConfig, clock: Clock, reporter: ComponentReporter, *,
                 realtime: bool = True, backoff_s: float = 0.5, backoff_max_s: float = 30.0) -> None:
        self.config = config
        self.source = parse_source(config.source)
        self.clock = clock
        self.reporter = reporter
        self.realtime = realtime
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._cond = threading.Condition()
        self._latest: Optional[Frame] = None
        self._seq = 0
        self._connected = False
        self._stalled = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- public --------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for target, name in ((self._run, "camera-capture"), (self._watch, "camera-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def latest(self) -> Optional[Frame]:
        """The newest frame as (t, frame), or None before the first frame."""
        with self._cond:
            return self._latest

    @property
    def frames(self) -> int:
        """Frames read since start."""
        with self._cond:
            return self._seq

    def wait_frame(self, newer_than: Optional[float] = None, timeout: float = 1.0) -> Optional[Frame]:
        """Block until there is a frame with time > ``newer_than`` (any frame
        when None); return it, or None after ``timeout`` seconds or on stop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._stop.is_set():
                if self._latest is not None and (newer_than is None or self._latest[0] > newer_than):
                    return self._latest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        return None

    # -- capture thread -------------------------------------------------------
    def _run(self) -> None:
        backoff = Backoff(self.backoff_max_s, self.backoff_s)
        while not self._stop.is_set():
            try:
                delivered = self._session()
            except Exception as exc:  # a driver bug must not kill the thread
                log.exception("camera capture failed")
                self.reporter.down(self.clock.now(), f"capture error: {exc}")
                delivered = False
            finally:
                with self._cond:
                    self._connected = False
            if delivered:  # it worked for a while: reopen soon, and back off afresh if it keeps failing
                backoff.reset()
            if self._stop.wait(backoff.first if delivered else backoff.next()):
                break

    def _session(self) -> bool:
        """Open the source and read until it fails; True if a frame came."""
        timeout_ms = int(max(self.config.stall_s, 1.0) * 1000)
        cap = open_capture(self.source, self.config, timeout_ms)
        try:
            if not cap.isOpened():
                self.reporter.count("open_failures")
                self.reporter.down(self.clock.now(), f"cannot open camera {self.config.source!r}")
                return False
            self.reporter.count("opens")
            period = self._file_period(cap)
            delivered = False
            next_due = time.monotonic()
            while not self._stop.is_set():
                ok, frame = cap.read()
                if not ok or frame is None:
                    self.reporter.count("lost")
                    self.reporter.down(self.clock.now(), "camera lost: no frame from the source")
                    return delivered
                t = self.clock.now()
                with self._cond:
                    self._latest = (t, frame)
                    self._seq += 1
                    self._connected = True
                    self._stalled = False
                    self._cond.notify_all()
                self.reporter.ok(t)
                delivered = True
                if period:
                    next_due += period
                    delay = next_due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                    else:
                        next_due = time.monotonic()  # fell behind: do not try to catch up
            return delivered
        finally:
            cap.release()

    def _file_period(self, cap: cv2.VideoCapture) -> float:
        if not self.realtime or isinstance(self.source, int) or is_stream_url(self.source):
            return 0.0
        if not Path(self.source).exists():
            return 0.0  # e.g. an image-sequence pattern: read as fast as asked
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not fps or fps != fps or fps <= 0 or fps > 1000:
            fps = self.config.fps
        return 1.0 / fps

    # -- watchdog -------------------------------------------------------------
    def _watch(self) -> None:
        interval = min(self.config.stall_s / 4, 0.5)
        while not self._stop.wait(interval):
            try:
                self._check_stall()
            except Exception:  # never let the watchdog die
                log.exception("camera watchdog failed")

    def _check_stall(self) -> None:
        now = self.clock.now()
        with self._cond:
            if not self._connected or self._stalled or self._latest is None:
                return
            age = now - self._latest[0]
            if age < self.config.stall_s:
                return
            self._stalled = True
        self.reporter.count("stalls")
        self.reporter.degraded(now, f"camera stalled: no frame for {age:.1f} s")

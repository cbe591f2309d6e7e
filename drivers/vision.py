"""CameraWatcher: newest camera frame -> MaskPipeline -> MaskObservation callback.

Runs in its own thread at ``CameraConfig.fps``. Frames older than
``CameraConfig.stall_s`` are not analysed (the capture reports the stall).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from checkpoint.clock import Clock
from checkpoint.config import CameraConfig, MaskConfig
from checkpoint.health import ComponentReporter
from checkpoint.messages import MaskObservation
from drivers.camera import CameraCapture
from drivers.mask.pipeline import MaskPipeline

log = logging.getLogger(__name__)


class CameraWatcher:
    def __init__(self, camera: CameraConfig, mask: MaskConfig, clock: Clock, reporter: ComponentReporter,
                 on_observation: Callable[[MaskObservation], None], *, realtime: bool = True,
                 capture: Optional[CameraCapture] = None, pipeline: Optional[MaskPipeline] = None) -> None:
        if camera.source.strip() == "simulated":
            raise ValueError("camera source 'simulated' is served by the agent's simulator, not CameraWatcher")
        self.camera = camera
        self.clock = clock
        self.reporter = reporter
        self.on_observation = on_observation
        self.capture = capture or CameraCapture(camera, clock, reporter, realtime=realtime)
        self.pipeline = pipeline or MaskPipeline(mask, roi=camera.roi)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.analysed = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.capture.start()
        self._thread = threading.Thread(target=self._run, name="camera-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.capture.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        period = 1.0 / self.camera.fps
        last_t: Optional[float] = None
        next_due = time.monotonic()
        while not self._stop.is_set():
            frame = self.capture.wait_frame(newer_than=last_t, timeout=min(period * 4, 1.0))
            if frame is None:
                continue
            t, image = frame
            last_t = t
            if self.clock.now() - t <= self.camera.stall_s:
                self._analyse(t, image)
            next_due += period
            delay = next_due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_due = time.monotonic()

    def _analyse(self, t: float, image) -> None:
        try:
            observation = self.pipeline.observe(image, t)
        except Exception as exc:
            self.reporter.count("pipeline_errors")
            log.exception("mask pipeline failed on a frame: %s", exc)
            return
        self.analysed += 1
        try:
            self.on_observation(observation)
        except Exception:
            self.reporter.count("callback_errors")
            log.exception("on_observation callback failed")

"""CameraWatcher: newest camera frame -> MaskPipeline -> MaskObservation callback.

Runs in its own thread at ``CameraConfig.fps``. Frames older than
``CameraConfig.stall_s`` are not analysed (the capture reports the stall).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable, Optional

import cv2

from checkpoint.clock import Clock
from checkpoint.config import CameraConfig, MaskConfig
from checkpoint.health import ComponentReporter
from checkpoint.messages import Box, MaskObservation
from drivers.camera import CameraCapture
from drivers.mask.pipeline import MaskPipeline

log = logging.getLogger(__name__)


class CameraWatcher:
    def __init__(self, camera: CameraConfig, mask: MaskConfig, clock: Clock, reporter: ComponentReporter,
                 on_observation: Callable[[MaskObservation], None], *, realtime: bool = True,
                 capture: Optional[CameraCapture] = None, pipeline: Optional[MaskPipeline] = None,
                 keep_faces: bool = False) -> None:
        if camera.source.strip() == "simulated":
            raise ValueError("camera source 'simulated' is served by the agent's simulator, not CameraWatcher")
        self.camera = camera
        self.clock = clock
        self.reporter = reporter
        self.on_observation = on_observation
        self.keep_faces = keep_faces  # [privacy] store_face_images: attach the face crop as JPEG
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
        if self.keep_faces and observation.box is not None:
            observation = replace(observation, face_jpeg=face_jpeg(image, observation.box))
        try:
            self.on_observation(observation)
        except Exception:
            self.reporter.count("callback_errors")
            log.exception("on_observation callback failed")


def face_jpeg(image, box: Box, quality: int = 85) -> Optional[bytes]:
    """The face box (clipped to the frame) as JPEG bytes, or None if it is empty."""
    h, w = image.shape[:2]
    x0, y0 = max(int(box.x), 0), max(int(box.y), 0)
    x1, y1 = min(int(box.x + box.w), w), min(int(box.y + box.h), h)
    if x1 <= x0 or y1 <= y0:
        return None
    ok, data = cv2.imencode(".jpg", image[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else None

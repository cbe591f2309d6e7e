"""Simulated visitors for the demo: a virtual scanner plus simulated mask observations.

Each visitor walks up, faces the camera for a couple of seconds (observations
at the camera's frame rate) and is measured by the virtual scanner on its
pseudo-terminal, so the real serial driver, tracker, rules and recorder run.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from checkpoint.clock import Clock
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, Box, ExitEvent, FaceQuality, MaskObservation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisitorKind:
    name: str
    weight: float
    temperature: Optional[float]  # None: walks past without measuring
    mask: Optional[tuple[float, float, float]]  # p(mask), p(no_mask), p(mask_incorrect); None: face not visible
    yaw_deg: Optional[float] = None  # head turned this far (degrees); None: no pose reported


KINDS = (
    VisitorKind("normal", 66, 36.5, (0.95, 0.02, 0.03)),
    VisitorKind("no mask", 9, 36.6, (0.03, 0.93, 0.04)),
    VisitorKind("mask below the nose", 5, 36.5, (0.06, 0.07, 0.87)),
    VisitorKind("fever", 5, 37.9, (0.94, 0.02, 0.04)),
    VisitorKind("too far", 4, 33.1, (0.95, 0.02, 0.03)),
    VisitorKind("face away", 4, 36.4, None),
    VisitorKind("in profile", 2, 36.5, (0.70, 0.10, 0.20), yaw_deg=70.0),
    VisitorKind("no reading", 2, None, (0.93, 0.03, 0.04)),
    VisitorKind("leaving", 3, None, None),
)


class VisitorSimulator:
    def __init__(self, scanner, put: Callable, clock: Clock, fps: float = 10.0,
                 interval_s: float = 6.0, seed: Optional[int] = None) -> None:
        self._scanner = scanner
        self._put = put
        self._clock = clock
        self._fps = fps
        self._interval_s = interval_s
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "VisitorSimulator":
        self._thread = threading.Thread(target=self._run, name="visitor-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _pick(self) -> VisitorKind:
        return self._random.choices(KINDS, weights=[k.weight for k in KINDS])[0]

    def _frames(self, kind: VisitorKind, seconds: float) -> None:
        size = self._random.uniform(120, 180)
        for _ in range(int(seconds * self._fps)):
            if self._stop.is_set():
                return
            if kind.mask is None:
                self._put(MaskObservation(self._clock.now(), None, frame_size=(640, 480)))
            else:
                box = Box(320 - size / 2, 200 - size / 2, size, size)
                quality = None
                if kind.yaw_deg is not None:
                    quality = FaceQuality(size_px=size, blur=250.0, brightness=125.0,
                                          yaw_deg=kind.yaw_deg + self._random.uniform(-5, 5),
                                          roll_deg=self._random.uniform(-5, 5))
                self._put(MaskObservation(self._clock.now(), box, self._probs(kind.mask), quality=quality,
                                          faces_in_frame=1, frame_size=(640, 480)))
            self._stop.wait(1.0 / self._fps)

    def _probs(self, base: tuple[float, float, float]) -> dict[str, float]:
        """The kind's three class probabilities, jittered a little frame to frame, summing to 1."""
        jittered = [max(p + self._random.uniform(-0.02, 0.02), 0.001) for p in base]
        total = sum(jittered)
        return {cls: round(p / total, 3) for cls, p in zip((MASK, NO_MASK, MASK_INCORRECT), jittered)}

    def _run(self) -> None:
        while not self._stop.wait(self._random.uniform(0.6, 1.4) * self._interval_s):
            kind = self._pick()
            if kind.name == "leaving":
                self._put(ExitEvent(self._clock.now(), "simulator"))
                continue
            log.debug("simulated visitor: %s", kind.name)
            self._frames(kind, 0.8)
            if kind.temperature is not None:
                self._scanner.send_temperature(round(kind.temperature + self._random.uniform(-0.2, 0.2), 2))
            self._frames(kind, 1.6)

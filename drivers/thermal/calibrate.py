"""From a raw :class:`Sample` to a :class:`ThermalReading`: region, range, calibration.

* Arrays: the hottest plausible pixel of the face region (fractions x, y, w, h
  set by ``set_face_region``) or else of the configured central ``window``;
  the blackbody's pixels (``calibration.reference_region``) are left out.
* Physical range (options ``min_c``/``max_c``, default -40..380 °C): values
  outside are sensor errors (``out_of_range``). The *body* plausibility rule
  belongs to the agent, not here.
* Calibration: ``none``; ``offset`` adds ``offset_c``; ``blackbody`` also adds
  ``reference_c - measured``, where *measured* is the mean of the reference
  region of an array frame or a second sensor value (``Sample.reference_c``).
  A blackbody measured beyond ``reference_tolerance_c`` from ``reference_c``
  is lost (``reference_lost``): the frame gives no reading, and the reader
  reports the scanner down, which closes the gate.
"""

from __future__ import annotations

import math
import threading
from typing import Optional, Union

import numpy as np

from checkpoint.config import ScannerConfig
from checkpoint.messages import Calibration, ThermalReading
from drivers.thermal.base import Fault, Sample, ScannerProtocol

Region = tuple[float, float, float, float]
REFERENCE_LOST = "reference_lost"  # the fault kind (and health counter) of a blackbody out of tolerance


def _slice(shape: tuple[int, int], region: Region) -> tuple[slice, slice]:
    rows, cols = shape
    x, y, w, h = (min(max(float(v), 0.0), 1.0) for v in region)
    c0, r0 = int(math.floor(x * cols)), int(math.floor(y * rows))
    c1 = max(c0 + 1, int(math.ceil(min(x + w, 1.0) * cols)))
    r1 = max(r0 + 1, int(math.ceil(min(y + h, 1.0) * rows)))
    return slice(min(r0, rows - 1), min(r1, rows)), slice(min(c0, cols - 1), min(c1, cols))


class Calibrator:
    def __init__(self, config: ScannerConfig, protocol: ScannerProtocol) -> None:
        self.config = config
        self.protocol = protocol
        self.options = protocol.options
        self._face: Optional[Region] = None
        self._lock = threading.Lock()
        self.measured_reference_c: Optional[float] = None

    def set_face_region(self, region: Optional[Region]) -> None:
        if region is not None:
            values = tuple(float(v) for v in region)
            if len(values) != 4 or values[2] <= 0 or values[3] <= 0:
                raise ValueError("face region is (x, y, w, h) fractions with w, h > 0")
            region = values
        with self._lock:
            self._face = region

    def _in_range(self, value: float) -> bool:
        return self.options.min_c <= value <= self.options.max_c

    def _hot_spot(self, frame: np.ndarray) -> Optional[float]:
        with self._lock:
            face = self._face
            region = face if face is not None else getattr(self.options, "window", (0.0, 0.0, 1.0, 1.0))
        valid = np.isfinite(frame) & (frame >= self.options.min_c) & (frame <= self.options.max_c)
        ref = self.config.calibration.reference_region
        if ref is not None:
            x, y, w, h = ref
            valid[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = False
        rows, cols = _slice(frame.shape, region)
        window = np.where(valid[rows, cols], frame[rows, cols], -np.inf)
        best = float(window.max()) if window.size else -math.inf
        return best if math.isfinite(best) else None

    def _reference(self, sample: Sample) -> Optional[float]:
        if sample.reference_c is not None and self._in_range(sample.reference_c):
            return sample.reference_c
        ref = self.config.calibration.reference_region
        if ref is not None and sample.frame is not None:
            x, y, w, h = ref
            patch = np.asarray(sample.frame)[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)]
            patch = patch[np.isfinite(patch)]
            if patch.size:
                value = float(patch.mean())
                if self._in_range(value):
                    return value
        return None

    def calibration(self) -> Calibration:
        cal = self.config.calibration
        if cal.method == "none":
            return Calibration()
        if cal.method == "offset":
            return Calibration("offset", cal.offset_c)
        return Calibration("blackbody", cal.offset_c, cal.reference_c, self.measured_reference_c)

    def reading(self, sample: Sample, t: float) -> Union[ThermalReading, Fault, None]:
        """A reading, a fault (sensor error), or None (nobody in front of the sensor)."""
        if sample.frame is not None:
            frame = np.asarray(sample.frame)
            raw = self._hot_spot(frame)
            if raw is None:
                return Fault("out_of_range", "no plausible pixel in the region")
        else:
            raw = sample.object_c
            if raw is None or not math.isfinite(raw):
                return Fault("failed_reads", "no object temperature")
            if not self._in_range(raw):
                return Fault("out_of_range", f"object {raw:.2f} °C outside {self.options.min_c}..{self.options.max_c}")
        reference = self._reference(sample)
        cal = self.config.calibration
        if reference is not None and cal.method == "blackbody" and cal.reference_c is not None \
                and abs(reference - cal.reference_c) > cal.reference_tolerance_c:
            return Fault(REFERENCE_LOST, f"blackbody measured {reference:.2f} °C, expected {cal.reference_c:.2f} "
                                         f"± {cal.reference_tolerance_c:g}: moved, covered or not at temperature")
        if reference is not None:
            self.measured_reference_c = reference
        if self.options.report_min_c is not None and raw < self.options.report_min_c:
            return None
        ambient = sample.ambient_c
        if ambient is not None and (not math.isfinite(ambient) or not self._in_range(ambient)):
            ambient = None
        calibration = self.calibration()
        keep = getattr(self.options, "keep_frame", False)
        return ThermalReading(
            t=t,
            body_c=round(raw + calibration.total_offset_c, 2),
            object_c=round(float(raw), 2),
            ambient_c=None if ambient is None else round(float(ambient), 2),
            calibration=calibration,
            sensor_id=self.config.sensor_id,
            protocol=self.protocol.key,
            frame=np.array(sample.frame, copy=True) if keep and sample.frame is not None else None,
        )

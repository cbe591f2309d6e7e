"""Plain dataclasses that cross the boundary between drivers and the core.

Drivers build these; the core consumes them. Nothing here imports OpenCV or
pyserial. Times are POSIX seconds (float, UTC) taken from a ``Clock``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

MASK = "mask"
NO_MASK = "no_mask"
MASK_INCORRECT = "mask_incorrect"  # a mask on the face that leaves the nose or the mouth bare
MASK_CLASSES = (MASK, NO_MASK, MASK_INCORRECT)
UNCERTAIN = "uncertain"  # a verdict, not a class: neither sure enough to let in nor to refuse


@dataclass(frozen=True)
class Calibration:
    """How a raw sensor value became a body temperature.

    ``method`` is ``none``, ``offset`` or ``blackbody``. For ``blackbody`` the
    reference held at ``reference_c`` was measured as ``measured_reference_c``
    and the difference was added to the reading on top of ``offset_c``.
    """

    method: str = "none"
    offset_c: float = 0.0
    reference_c: Optional[float] = None
    measured_reference_c: Optional[float] = None

    @property
    def total_offset_c(self) -> float:
        drift = 0.0
        if self.reference_c is not None and self.measured_reference_c is not None:
            drift = self.reference_c - self.measured_reference_c
        return self.offset_c + drift


@dataclass(frozen=True)
class ThermalReading:
    """One successful temperature reading of a person at the gate."""

    t: float
    body_c: float  # after calibration
    object_c: float  # raw value the sensor reported for the target
    ambient_c: Optional[float] = None
    calibration: Calibration = field(default_factory=Calibration)
    sensor_id: str = "scanner"
    protocol: str = ""
    frame: Any = None  # optional thermal array (numpy) kept only when configured


@dataclass(frozen=True)
class Box:
    """A face box in frame pixels."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)


@dataclass(frozen=True)
class FaceQuality:
    size_px: float  # shorter side of the face box
    blur: float  # variance of the Laplacian; low means blurred
    brightness: float  # mean grey level 0..255
    yaw_deg: Optional[float] = None  # head turned left/right, from the detector's keypoints; 0 is frontal
    roll_deg: Optional[float] = None  # head tilted towards a shoulder; 0 is upright


@dataclass(frozen=True)
class MaskObservation:
    """What the camera saw in one frame.

    ``box`` is the visitor's face (the largest face in the region of
    interest) or ``None`` when no face was found. ``probs`` maps each class in
    ``MASK_CLASSES`` the model knows to its probability.
    """

    t: float
    box: Optional[Box]
    probs: dict[str, float] = field(default_factory=dict)
    quality: Optional[FaceQuality] = None
    faces_in_frame: int = 0
    frame_size: tuple[int, int] = (0, 0)  # width, height
    face_jpeg: Optional[bytes] = None  # the face crop, encoded only when storing images is enabled

    @property
    def has_face(self) -> bool:
        return self.box is not None

    @property
    def mask_class(self) -> Optional[str]:
        if not self.probs:
            return None
        return max(self.probs, key=self.probs.__getitem__)

    @property
    def confidence(self) -> float:
        return max(self.probs.values()) if self.probs else 0.0


@dataclass(frozen=True)
class SensorStatus:
    """A change in a sensor's state, as an event in the agent's stream.

    ``state`` is one of ``checkpoint.health`` OK / DEGRADED / DOWN. Live
    drivers report through a ``ComponentReporter`` (the agent turns changes
    into these events); replayed recordings yield them in time order.
    """

    t: float
    component: str  # "scanner" or "camera"
    state: str
    message: str = ""


@dataclass(frozen=True)
class ExitEvent:
    """A person leaving the building (from a guard, an exit sensor or a recording)."""

    t: float
    source: str = "sensor"

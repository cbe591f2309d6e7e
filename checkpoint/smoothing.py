"""Smoothing one visitor's mask probabilities over the last few frames."""

from __future__ import annotations

import math
from typing import Iterable, Optional

from checkpoint.messages import MaskObservation

SHARP_BLUR = 100.0  # variance of the Laplacian at which a crop counts as fully sharp
GOOD_SIZE_PX = 80.0  # face side at which size stops adding weight
# Head pose: a turned or tilted head shows less of the nose and mouth, so its frame counts less. The weight
# falls as a quarter cosine from 1 (frontal, upright) to POSE_FLOOR at these angles and stays there beyond.
YAW_FLOOR_DEG = 60.0
ROLL_FLOOR_DEG = 45.0
POSE_FLOOR = 0.05


def _falloff(angle_deg: Optional[float], floor_deg: float) -> float:
    if angle_deg is None:
        return 1.0
    x = min(abs(angle_deg) / floor_deg, 1.0)
    return POSE_FLOOR + (1.0 - POSE_FLOOR) * math.cos(x * math.pi / 2)


def pose_weight(obs: MaskObservation) -> float:
    """1 for a frontal, upright head (or a frame without a pose), falling smoothly with |yaw| and |roll|
    to POSE_FLOOR at YAW_FLOOR_DEG / ROLL_FLOOR_DEG and beyond."""
    q = obs.quality
    if q is None:
        return 1.0
    return max(_falloff(q.yaw_deg, YAW_FLOOR_DEG) * _falloff(q.roll_deg, ROLL_FLOOR_DEG), POSE_FLOOR)


def quality_weight(obs: MaskObservation) -> float:
    """How much one frame counts: larger, sharper, well-lit faces count more;
    every frame with a face keeps a floor weight so poor frames still vote."""
    q = obs.quality
    if q is None:
        return 1.0
    size = min(q.size_px / GOOD_SIZE_PX, 1.0)
    sharp = min(q.blur / SHARP_BLUR, 1.0)
    light = 1.0 - abs(q.brightness - 128.0) / 128.0
    return 0.1 + size * (0.5 * sharp + 0.5) * (0.5 * max(light, 0.0) + 0.5)


def frame_weight(obs: MaskObservation) -> float:
    """How much one frame counts in the smoothing: its image quality times its head pose."""
    return quality_weight(obs) * pose_weight(obs)


def smooth(observations: Iterable[MaskObservation]) -> dict[str, float]:
    """Weighted mean (``frame_weight``) of the class probabilities over frames with a face.

    Returns {} when no frame has a face (the visitor was not seen)."""
    totals: dict[str, float] = {}
    weight_sum = 0.0
    for obs in observations:
        if not obs.has_face or not obs.probs:
            continue
        w = frame_weight(obs)
        weight_sum += w
        for cls, p in obs.probs.items():
            totals[cls] = totals.get(cls, 0.0) + w * p
    if weight_sum <= 0:
        return {}
    return {cls: v / weight_sum for cls, v in totals.items()}

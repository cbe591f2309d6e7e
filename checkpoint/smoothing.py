"""Smoothing one visitor's mask probabilities over the last few frames."""

from __future__ import annotations

from typing import Iterable

from checkpoint.messages import MaskObservation

SHARP_BLUR = 100.0  # variance of the Laplacian at which a crop counts as fully sharp
GOOD_SIZE_PX = 80.0  # face side at which size stops adding weight


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


def smooth(observations: Iterable[MaskObservation]) -> dict[str, float]:
    """Quality-weighted mean of the class probabilities over frames with a face.

    Returns {} when no frame has a face (the visitor was not seen)."""
    totals: dict[str, float] = {}
    weight_sum = 0.0
    for obs in observations:
        if not obs.has_face or not obs.probs:
            continue
        w = quality_weight(obs)
        weight_sum += w
        for cls, p in obs.probs.items():
            totals[cls] = totals.get(cls, 0.0) + w * p
    if weight_sum <= 0:
        return {}
    return {cls: v / weight_sum for cls, v in totals.items()}

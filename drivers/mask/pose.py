"""Head pose from BlazeFace's six keypoints: how far the head is turned and tilted.

BlazeFace gives right eye, left eye, nose tip, mouth centre, right ear
(tragion) and left ear, in that order. Roll is the slope of the eye line.
Yaw compares the nose's distance to each ear along the eye line: equal for a
frontal face, one of them near zero in profile; ``asin`` of their normalised
difference is a rough angle (about right to +-60 degrees, saturating beyond),
enough to weigh frames and to tell a profile from a frontal face.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

Point = tuple[float, float]


def head_pose(keypoints: Sequence[Point]) -> tuple[Optional[float], Optional[float]]:
    """(yaw, roll) in degrees, None where the keypoints do not tell.

    Roll is positive when the head tilts with the left eye (image right) lower.
    Yaw is positive when the nose moves towards the left ear (image right)."""
    if len(keypoints) < 6:
        return None, None
    (rx, ry), (lx, ly), (nx, ny), _, (erx, ery), (elx, ely) = keypoints[:6]
    ex, ey = lx - rx, ly - ry
    span = math.hypot(ex, ey)
    if span <= 1e-6:
        return None, None
    roll = math.degrees(math.atan2(ey, ex))
    ux, uy = ex / span, ey / span  # unit vector along the eye line, right eye to left eye
    to_right = (nx - erx) * ux + (ny - ery) * uy  # nose beyond the right ear, along the eye line
    to_left = (elx - nx) * ux + (ely - ny) * uy
    total = abs(to_right) + abs(to_left)
    if total <= 1e-6:
        return None, roll
    ratio = (to_right - to_left) / total
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, ratio))))
    return yaw, roll

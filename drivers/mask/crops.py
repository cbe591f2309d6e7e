"""Face crops for the mask classifier: the one place that decides what the
classifier sees, shared by training and inference so the two match."""

from __future__ import annotations

import cv2
import numpy as np

CROP_SCALE = 1.4  # crop side as a multiple of the larger side of the face box
CROP_SHIFT = 0.05  # crop centre moved down by this fraction of the box height (chin, mask)


def crop_square(box: tuple[float, float, float, float], extra: float = 1.0) -> tuple[float, float, float]:
    """Centre x, centre y and side of the square crop around a face box (x, y, w, h)."""
    x, y, w, h = box
    return x + w / 2, y + h / 2 + CROP_SHIFT * h, CROP_SCALE * max(w, h) * extra


def crop_face(frame_bgr: np.ndarray, box: tuple[float, float, float, float] | None, size: int,
              extra: float = 1.0) -> np.ndarray:
    """A size x size crop of the face (grey outside the frame).

    With ``box`` None the whole frame is letterboxed into the square (used in
    training when the detector finds no face).
    """
    if box is None:
        h, w = frame_bgr.shape[:2]
        cx, cy, side = w / 2, h / 2, max(w, h) * extra
    else:
        cx, cy, side = crop_square(box, extra)
    half = max(side, 2.0) / 2
    x0, y0 = int(round(cx - half)), int(round(cy - half))
    n = max(int(round(2 * half)), 1)
    h, w = frame_bgr.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if (sx0, sy0, sx1, sy1) == (x0, y0, x0 + n, y0 + n):
        region = frame_bgr[y0:y0 + n, x0:x0 + n]  # inside the frame: no copy
    else:
        region = np.full((n, n, 3), 128, np.uint8)
        if sx1 > sx0 and sy1 > sy0:
            region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frame_bgr[sy0:sy1, sx0:sx1]
    return shrink(region, size, size)


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height); large reductions go by halving with bilinear
    steps (each a 2x2 box filter): several times cheaper than INTER_AREA, and
    without the aliasing of one bilinear step."""
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)

"""Training augmentation for face crops, aimed at the gate's real conditions.

Works on a context crop (``CONTEXT`` px, twice the side of the inference crop,
so the inference crop is its central half) and returns an ``size`` px crop:
scale / shift / slight rotation / flip, dark and colourful masks (hue, greyscale,
saturation), dark skin and low light (brightness, contrast, gamma), far faces
(down- then up-sampling), blur, sensor noise, partial occlusion and grey frame edges.
"""

from __future__ import annotations

import cv2
import numpy as np

CONTEXT = 128  # side of the cached context crop
CONTEXT_EXTRA = 2.0  # context crop side / inference crop side
COLOURED_LIGHTS = ((0.6, 0.9, 1.35), (1.35, 1.0, 0.7), (0.8, 1.25, 0.8), (1.25, 0.75, 1.2))  # BGR gains


def geometric(ctx: np.ndarray, size: int, rng: np.random.Generator, pose: bool = True) -> np.ndarray:
    """Scale, shift, rotation and flip; with ``pose`` also strongly tilted
    (to +-40 degrees) and turned heads (a perspective warp)."""
    zoom = rng.uniform(0.85, 1.2)  # >1 shows more context (face smaller)
    angle = rng.uniform(-40, 40) if pose and rng.random() < 0.3 else rng.uniform(-12, 12)
    src_side = CONTEXT / CONTEXT_EXTRA * zoom
    s = size / src_side
    c = CONTEXT / 2 + rng.uniform(-0.08, 0.08, 2) * src_side
    m: np.ndarray = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, s)  # 2 x 3, float64
    m[:, 2] += np.array([size / 2, size / 2]) - c
    out = cv2.warpAffine(ctx, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT101)
    if pose and rng.random() < 0.2:  # a turned head: one side of the face nearer the camera
        out = turned(out, rng.uniform(0.08, 0.3), rng)
    return out[:, ::-1] if rng.random() < 0.5 else out


def turned(img: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A perspective warp that shrinks one side vertically and squeezes it
    horizontally, as a head turned by some 15-40 degrees looks."""
    n = img.shape[0]
    src = np.array([[0, 0], [n, 0], [n, n], [0, n]], np.float32)
    d = amount * n
    dst = np.array([[0, 0], [n - d, d / 2], [n - d, n - d / 2], [0, n]], np.float32)
    if rng.random() < 0.5:
        dst = np.array([[d, d / 2], [n, 0], [n, n], [d, n - d / 2]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def photometric(img: np.ndarray, rng: np.random.Generator, light: bool = True) -> np.ndarray:
    if rng.random() < 0.4:  # mask colours vary: hue and saturation
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + rng.integers(-12, 13)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.5, 1.4), 0, 255)
        img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.2:  # greyscale cameras, black masks look like dark skin
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    f: np.ndarray = img.astype(np.float32)  # float32 at first; some of the steps below give float64
    if rng.random() < 0.8:  # brightness / contrast: dark skin, backlight, overexposure
        mean = f.mean()
        f = (f - mean) * rng.uniform(0.6, 1.35) + mean * rng.uniform(0.45, 1.3)
    if rng.random() < 0.2:  # low light: gamma darkening
        f = 255.0 * (np.clip(f, 0, 255) / 255.0) ** rng.uniform(1.3, 2.2)
    if rng.random() < 0.2:  # per-channel white balance
        f = f * rng.uniform(0.85, 1.15, 3)
    if light and rng.random() < 0.1:  # coloured light: sodium lamps, shop signs, screens
        f = f * np.array(COLOURED_LIGHTS[int(rng.integers(len(COLOURED_LIGHTS)))], np.float32)
    if light and rng.random() < 0.08:  # a dim entrance
        f = f * rng.uniform(0.25, 0.45)
    if rng.random() < 0.2:  # sensor noise
        f = f + rng.normal(0, rng.uniform(2, 10), f.shape)
    return np.clip(f, 0, 255).astype(np.uint8)


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = img.shape[0]
    if rng.random() < 0.2:  # far away: few pixels on the face
        small = int(rng.integers(14, 33))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:  # out of focus / motion
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.6))
    if rng.random() < 0.1:  # JPEG artefacts
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 60))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("a crop did not survive its JPEG round trip")
        img = decoded
    if rng.random() < 0.15:  # partial occlusion by a small patch of noise
        ph, pw = (rng.uniform(0.12, 0.3, 2) * size).astype(int)
        y, x = rng.integers(0, size - ph), rng.integers(0, size - pw)
        img = img.copy()
        img[y:y + ph, x:x + pw] = rng.integers(0, 256, (ph, pw, 3), dtype=np.uint8)
    return img


def grey_border(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey strips like those ``crop_face`` adds beyond the frame edge. Tight
    photo crops (grey strips in the crop) are commoner without masks in the
    data; strips on some views of every class keep them from being read as a
    class cue."""
    if rng.random() >= 0.3:
        return img
    img = img.copy()
    size = img.shape[0]
    for side in rng.choice(4, size=int(rng.integers(1, 4)), replace=False):
        n = int(rng.uniform(0.05, 0.3) * size)
        if side == 0:
            img[:n] = 128
        elif side == 1:
            img[size - n:] = 128
        elif side == 2:
            img[:, :n] = 128
        else:
            img[:, size - n:] = 128
    return img


def augment(ctx: np.ndarray, size: int, rng: np.random.Generator, pose: bool = True) -> np.ndarray:
    """One random training view (BGR uint8, size x size) of a context crop;
    ``pose`` False leaves out the strong tilts, turned heads, coloured light
    and dim entrances (the first recipe, for comparison)."""
    view = grey_border(np.ascontiguousarray(geometric(ctx, size, rng, pose)), rng)
    return degrade(photometric(view, rng, light=pose), rng)

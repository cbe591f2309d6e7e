"""Synthetic training faces for the errors that matter at a door.

* ``draw_incorrect_mask``: a mask drawn on a bare face, placed from the
  detector's keypoints, but worn wrong: below the nose (mouth covered, nose
  bare) or pulled under the chin (nose and mouth bare). Many colours, textures,
  pleats and ear loops, shaded, following the head's roll.
* ``draw_hand``: a hand (palm and fingers in the face's own skin colour) or a
  held object (cup, phone, microphone) in front of the mouth: still no mask.

Both work in place on a BGR image given the face's keypoints (right eye,
left eye, nose, mouth, as BlazeFace orders them) in that image's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

# Common mask colours (BGR): surgical blue and green, white, black, greys, navy, pink.
PALETTE = ((230, 200, 150), (205, 215, 170), (245, 245, 245), (35, 35, 35), (120, 120, 120),
           (200, 200, 200), (90, 40, 20), (190, 170, 240), (60, 60, 150), (120, 160, 90))
Points = np.ndarray  # 4 x 2: right eye, left eye, nose, mouth


def face_frame(kps: Points) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(eye centre, down unit vector, right unit vector, eye-to-mouth distance)."""
    eyes = (kps[0] + kps[1]) / 2
    down = kps[3] - eyes
    length = float(np.hypot(*down)) or 1.0
    down = down / length
    return eyes, down, np.array([-down[1], down[0]]), length


def random_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.75:
        base = np.array(PALETTE[int(rng.integers(len(PALETTE)))], np.float32)
    else:
        hsv = np.array([[[rng.integers(0, 180), rng.integers(40, 255), rng.integers(40, 255)]]], np.uint8)
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    return np.clip(base + rng.normal(0, 12, 3), 0, 255)


def texture(h: int, w: int, colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mask fabric: plain, pleated, striped or printed, with soft shading."""
    img = np.ones((h, w, 3), np.float32) * colour
    kind = rng.random()
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    if kind < 0.35:  # pleats
        period = max(3.0, h / rng.uniform(3, 5))
        img *= (0.85 + 0.15 * (np.sin(ys / period * 2 * np.pi) > 0))[..., None]
    elif kind < 0.5:  # stripes or checks
        period = max(3.0, w / rng.uniform(3, 8))
        img = np.where((np.sin(xs / period * 2 * np.pi) > 0)[..., None], img, img * rng.uniform(0.4, 0.8))
    elif kind < 0.65:  # printed pattern
        blobs = cv2.resize(rng.random((max(2, h // 6), max(2, w // 6))).astype(np.float32), (w, h))
        img = img * (0.6 + 0.4 * blobs[..., None]) + (blobs[..., None] > 0.7) * rng.uniform(-80, 80, 3)
    img *= (1.05 - 0.25 * (ys / max(h, 1)))[..., None] * rng.uniform(0.8, 1.1)  # light from above
    img += rng.normal(0, rng.uniform(1, 6), img.shape)
    return np.clip(img, 0, 255)


def _paste(image: np.ndarray, polygon: np.ndarray, fabric_colour: np.ndarray, rng: np.random.Generator) -> None:
    x0, y0 = np.floor(polygon.min(0)).astype(int)
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + 1
    H, W = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    h, w = cy1 - cy0, cx1 - cx0
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon - [cx0, cy0]).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.5, 0.01 * max(h, w)))[..., None]
    fabric = texture(h, w, fabric_colour, rng)
    region = image[cy0:cy1, cx0:cx1].astype(np.float32)
    shade = cv2.GaussianBlur(cv2.cvtColor(region.astype(np.uint8), cv2.COLOR_BGR2GRAY).astype(np.float32),
                             (0, 0), max(1.0, 0.08 * max(h, w)))[..., None] / 128.0
    fabric = fabric * np.clip(0.55 + 0.45 * shade, 0.4, 1.2)  # keep the scene's light on the fabric
    image[cy0:cy1, cx0:cx1] = np.clip(region * (1 - soft) + fabric * soft, 0, 255).astype(np.uint8)


def mask_polygon(top_centre: np.ndarray, bottom_centre: np.ndarray, half_top: float, half_bottom: float,
                 right: np.ndarray, n: int = 12) -> np.ndarray:
    """A rounded trapezoid from a top edge to a bottom edge, bulging downwards."""
    down = bottom_centre - top_centre
    pts = []
    for t in np.linspace(-1, 1, n):
        pts.append(top_centre + right * t * half_top + down * 0.08 * (1 - t * t))
    for t in np.linspace(1, -1, n):
        pts.append(bottom_centre + right * t * half_bottom + down * 0.15 * (1 - t * t))
    return np.array(pts, np.float32)


def draw_incorrect_mask(image: np.ndarray, kps: Points, rng: np.random.Generator, style: str = "") -> str:
    """Draw a mask worn wrong; returns the style drawn: 'below_nose' (the top
    edge between nose tip and mouth, the mouth covered or half covered) or
    'under_chin' (nose and mouth bare, the mask on the chin and neck)."""
    eyes, down, right, length = face_frame(kps)
    style = style or ("below_nose" if rng.random() < 0.6 else "under_chin")
    return draw_mask(image, kps, rng, style)


def draw_correct_mask(image: np.ndarray, kps: Points, rng: np.random.Generator) -> str:
    """Draw a mask worn right, over the nose bridge down past the chin: the
    same drawing as the wrong wear, so the position, not the drawing, tells
    the classes apart."""
    return draw_mask(image, kps, rng, "correct")


def draw_mask(image: np.ndarray, kps: Points, rng: np.random.Generator, style: str) -> str:
    """A mask drawn in ``style``: 'correct', 'below_nose' or 'under_chin'."""
    eyes, down, right, length = face_frame(kps)
    eye_span = float(np.hypot(*(kps[1] - kps[0]))) or length
    half = max(eye_span, 0.8 * length) * rng.uniform(0.95, 1.25)
    nose, mouth = kps[2], kps[3]
    nose_to_mouth = float(np.dot(mouth - nose, down)) or 0.3 * length
    if style == "correct":
        top = eyes + down * length * rng.uniform(0.3, 0.5)
        bottom = mouth + down * length * rng.uniform(0.75, 1.05)
    elif style == "below_nose":
        top = nose + down * nose_to_mouth * rng.uniform(0.2, 0.7)
        bottom = mouth + down * length * rng.uniform(0.75, 1.05)
    else:
        top = mouth + down * length * rng.uniform(0.25, 0.45)
        bottom = mouth + down * length * rng.uniform(0.85, 1.2)
    top = top + right * rng.normal(0, 0.05) * half
    colour = random_colour(rng)
    _paste(image, mask_polygon(top, bottom, half, half * rng.uniform(0.55, 0.8), right), colour, rng)
    if rng.random() < 0.7:  # ear loops
        loop = tuple(int(c) for c in np.clip(colour * rng.uniform(0.7, 1.0), 0, 255))
        thick = max(1, int(round(0.04 * length)))
        for side in (-1, 1):
            start = top + right * side * half
            end = eyes + right * side * half * 1.15 + down * 0.2 * length
            cv2.line(image, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)), loop, thick,
                     cv2.LINE_AA)
    return style


def skin_colour(image: np.ndarray, kps: Points) -> np.ndarray:
    """The median colour of the cheeks (between eye and mouth, beside the nose)."""
    eyes, down, right, length = face_frame(kps)
    samples = []
    H, W = image.shape[:2]
    r = max(1, int(0.12 * length))
    for side in (-1, 1):
        c = kps[2] + right * side * 0.45 * length - down * 0.1 * length
        x, y = int(c[0]), int(c[1])
        patch = image[max(y - r, 0):min(y + r, H), max(x - r, 0):min(x + r, W)]
        if patch.size:
            samples.append(patch.reshape(-1, 3))
    if not samples:
        return np.array([90, 120, 170], np.float32)
    return np.median(np.concatenate(samples), axis=0).astype(np.float32)


def draw_hand(image: np.ndarray, kps: Points, rng: np.random.Generator) -> str:
    """A hand or a held object over the mouth; returns 'hand' or 'object'."""
    eyes, down, right, length = face_frame(kps)
    mouth = kps[3] + right * rng.normal(0, 0.15) * length
    if rng.random() < 0.65:
        colour = np.clip(skin_colour(image, kps) * rng.uniform(0.85, 1.1), 0, 255)
        side = 1 if rng.random() < 0.5 else -1
        palm_c = mouth + right * side * 0.35 * length + down * 0.35 * length
        angle = float(np.degrees(np.arctan2(down[1], down[0]))) + rng.uniform(-40, 40)
        palm = cv2.ellipse2Poly(tuple(np.round(palm_c).astype(int)),
                                (max(2, int(0.45 * length)), max(2, int(0.6 * length))), int(angle), 0, 360, 15)
        _paste(image, np.asarray(palm, np.float32), colour, np.random.default_rng(int(rng.integers(1 << 31))))
        for k in range(int(rng.integers(2, 5))):  # fingers across the mouth
            base = palm_c - down * 0.2 * length + right * (-side) * (0.1 + 0.15 * k) * length
            tip = base - right * side * rng.uniform(0.6, 0.9) * length - down * rng.uniform(0.1, 0.4) * length
            cv2.line(image, tuple(np.round(base).astype(int)), tuple(np.round(tip).astype(int)),
                     tuple(float(c) for c in colour * rng.uniform(0.9, 1.05)), max(2, int(0.16 * length)),
                     cv2.LINE_AA)
        return "hand"
    w, h = rng.uniform(0.25, 0.5) * length, rng.uniform(0.4, 0.9) * length
    centre = mouth + down * rng.uniform(0.0, 0.4) * length + right * rng.uniform(-0.3, 0.3) * length
    corners = np.array([centre + right * sx * w + down * sy * h for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))],
                       np.float32)
    _paste(image, corners, random_colour(rng), rng)
    return "object"


def box_keypoints(box: tuple[float, float, float, float]) -> Points:
    """Keypoints guessed from a face box where the detector gave none."""
    x, y, w, h = box
    return np.array([[x + 0.32 * w, y + 0.38 * h], [x + 0.68 * w, y + 0.38 * h],
                     [x + 0.5 * w, y + 0.6 * h], [x + 0.5 * w, y + 0.78 * h]], np.float32)

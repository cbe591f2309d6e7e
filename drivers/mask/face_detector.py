"""BlazeFace short-range face detector run through ``cv2.dnn``.

The model (``face_detection_short_range.onnx``, MediaPipe's TFLite weights
rewritten by ``detector_export``) takes a 1x3xHxW RGB tensor scaled to
[-1, 1], H and W multiples of 16, and returns per anchor one logit and 16
regressors (centre offset, size and 6 keypoints in input pixels). It was
trained at 128x128; a frame is scaled so its longer side is 128 px and the
shorter side is padded only up to the next multiple of 16, so a 4:3 camera
frame runs at 128x96 (a quarter less work than a letterboxed square, same
weights). Anchors, decoding, non-maximum suppression and the fitting are
pure NumPy functions so they can be tested without the network.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from drivers.mask.crops import shrink

MODEL_PATH = Path(__file__).parent / "models" / "face_detection_short_range.onnx"
INPUT_SIZE = 128  # the longer side of the network input
GRID_STEP = 16  # input sides are multiples of the coarser anchor stride
NMS_IOU = 0.3
OUTPUTS = ["classificators", "regressors"]


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixels."""

    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()  # right eye, left eye, nose, mouth, right ear, left ear

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)


@functools.lru_cache(maxsize=32)
def make_anchors(width: int = INPUT_SIZE, height: int = INPUT_SIZE) -> np.ndarray:
    """Anchor centres (x, y) in input pixels, in the model's output order:
    stride-8 cells row by row with 2 anchors each, then stride-16 cells with 6
    (896 anchors for 128x128, 672 for 128x96)."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        ys, xs = np.mgrid[0:height // stride, 0:width // stride]
        centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    anchors = np.concatenate(out).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def decode(logits: np.ndarray, regressors: np.ndarray, score_threshold: float,
           anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs to (boxes x1,y1,x2,y2, scores, keypoints 6x2) in input pixels,
    for the anchors scoring at least ``score_threshold``."""
    raw = logits.reshape(-1)
    keep = np.flatnonzero(raw >= math.log(score_threshold / (1.0 - score_threshold)))  # sigmoid(raw) >= threshold
    scores = 1.0 / (1.0 + np.exp(-raw[keep].astype(np.float64)))
    reg = regressors.reshape(-1, 16)[keep]
    anc = anchors[keep]
    centre = reg[:, 0:2] + anc
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kps = reg[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, scores, kps


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (x1, y1, x2, y2) with each of ``boxes``."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU) -> list[int]:
    """Indices kept by greedy non-maximum suppression (a box goes when it
    overlaps a better one by more than ``iou_threshold``), best score first.
    OpenCV's NMSBoxes: a third of the time of a NumPy loop for BlazeFace's
    typical 10-50 candidates."""
    if len(boxes) == 0:
        return []
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1).astype(np.float64)
    # the stub asks for sequences of boxes and floats; NMSBoxes takes N x 4 and N arrays as they are
    kept = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float32), 0.0, iou_threshold)  # type: ignore[arg-type]
    return [int(i) for i in kept]


def input_size(width: int, height: int, side: int = INPUT_SIZE) -> tuple[int, int, float]:
    """(input width, input height, scale) for a frame: the longer side becomes
    ``side`` px, the shorter side is rounded up to a multiple of GRID_STEP."""
    scale = side / max(width, height)
    round_up = lambda n: max(GRID_STEP, -(-n // GRID_STEP) * GRID_STEP)  # noqa: E731
    nw, nh = max(1, round(width * scale)), max(1, round(height * scale))
    return round_up(nw), round_up(nh), scale


def fit(image: np.ndarray, side: int = INPUT_SIZE) -> tuple[np.ndarray, float, float, float]:
    """Scale the image to the network input, centred on black where the shorter
    side falls short of a multiple of 16. Returns (input, scale, pad_x, pad_y)
    where frame = (input - pad) / scale."""
    h, w = image.shape[:2]
    in_w, in_h, scale = input_size(w, h, side)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = shrink(image, nw, nh)
    if (nw, nh) == (in_w, in_h):
        return resized, scale, 0.0, 0.0
    pad_x, pad_y = (in_w - nw) // 2, (in_h - nh) // 2
    canvas = np.zeros((in_h, in_w, image.shape[2]), np.uint8)
    canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return canvas, scale, float(pad_x), float(pad_y)


def to_faces(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray,
             scale: float, pad_x: float, pad_y: float) -> list[Face]:
    """Map detections in input pixels back to frame pixels."""
    pad = np.array([pad_x, pad_y], np.float64)
    corners = (boxes.reshape(-1, 2, 2) - pad) / scale
    points = (kps - pad) / scale
    return [Face(float(c[0, 0]), float(c[0, 1]), float(c[1, 0] - c[0, 0]), float(c[1, 1] - c[0, 1]), float(s),
                 tuple((float(px), float(py)) for px, py in k))
            for c, s, k in zip(corners, scores, points)]


RETRY_MAX_SIDE = 400  # camera frames (640x480 and up) are larger: never retried
REACH_SIDE = 384  # input side of the reach pass: a 40 px face of a 640x480 frame becomes 24 px
REACH_SCORE = 0.4  # the reach pass looks for small faces, whose scores are lower (the face check follows)
CLOSE_FRACTION = 1 / 3  # a face this large (shorter side / frame's shorter side) is a visitor at the camera


class FaceDetector:
    """Find faces in a BGR frame; largest first is up to the caller.

    A camera frame is searched once at ``side`` px (its longer side), where
    faces of about a fifth of the frame and more are found. Unless that finds
    a visitor right at the camera (a face of at least ``close_fraction`` of the
    frame's shorter side: the frame is theirs), a reach pass follows at
    ``reach_side`` px with ``reach_score``, where faces of 40 px in a 640x480
    frame are found; the two are merged by non-maximum suppression.
    ``reach_side`` 0 turns the reach pass off (bench/bench_scenes.py measures
    both; docs in drivers/mask/models/MODEL_CARD.md).

    ``retry_max_side``: images whose longer side is at most this many pixels
    get the padded retry (see ``detect``); None retries every image (still
    photos, which may be tight face crops of any size). ``tile_retry``: then
    search overlapping quarters (still photos, where the face may be small)."""

    def __init__(self, score_threshold: float = 0.3, model_path: Optional[Path] = None,
                 pad_retry: float = 0.35, retry_max_side: Optional[int] = RETRY_MAX_SIDE,
                 tile_retry: bool = False, side: int = INPUT_SIZE, reach_side: int = REACH_SIDE,
                 reach_score: float = REACH_SCORE, close_fraction: float = CLOSE_FRACTION) -> None:
        self.score_threshold = score_threshold
        self.pad_retry = pad_retry
        self.retry_max_side = retry_max_side
        self.tile_retry = tile_retry
        self.side = side
        self.reach_side = reach_side
        self.reach_score = reach_score
        self.close_fraction = close_fraction
        self._model_path = str(model_path or MODEL_PATH)
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}
        self.reach_passes = 0  # how often the reach pass ran (benches report it)

    def net(self, width: int, height: int) -> cv2.dnn.Net:
        """One network per input size: cv2.dnn re-plans its buffers (about 1 ms)
        whenever the input shape changes, and a camera sends one size only."""
        net = self._nets.get((width, height))
        if net is None:
            net = self._nets[(width, height)] = cv2.dnn.readNetFromONNX(self._model_path)
        return net

    def raw_outputs(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's (logits, regressors) for a BGR image whose sides are
        multiples of 16 (the model wants RGB: the channels are swapped here)."""
        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, scalefactor=1 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True)
        net = self.net(w, h)
        net.setInput(blob)
        logits, regressors = net.forward(OUTPUTS)
        return logits, regressors

    def _run(self, frame_bgr: np.ndarray, side: Optional[int] = None, score: Optional[float] = None) -> list[Face]:
        image, scale, pad_x, pad_y = fit(frame_bgr, side or self.side)
        logits, regressors = self.raw_outputs(image)
        anchors = make_anchors(image.shape[1], image.shape[0])
        boxes, scores, kps = decode(logits, regressors, score or self.score_threshold, anchors)
        keep = nms(boxes, scores)
        return to_faces(boxes[keep], scores[keep], kps[keep], scale, pad_x, pad_y)

    def _reach(self, frame_bgr: np.ndarray, faces: list[Face]) -> list[Face]:
        """The reach pass for small faces, unless a face fills the frame."""
        h, w = frame_bgr.shape[:2]
        side = min(self.reach_side, -(-max(h, w) // GRID_STEP) * GRID_STEP)  # never beyond the frame's own size
        if side <= self.side or any(min(f.w, f.h) >= self.close_fraction * min(h, w) for f in faces):
            return faces
        self.reach_passes += 1
        return merged(faces + self._run(frame_bgr, side, self.reach_score))

    def detect(self, frame_bgr: np.ndarray, camera: Optional[bool] = None) -> list[Face]:
        """All faces, best score first. An image that yields nothing is retried
        once with a grey border around it: a tight face crop leaves the model no
        context. Camera frames (longer than ``retry_max_side``) are not retried
        but get the reach pass (see the class). With ``tile_retry`` (still
        photos), a photo that still yields nothing is searched in overlapping
        quarters, where a small face is twice as large. ``camera`` True or False
        says what the image is (a region of a camera frame may be small);
        None decides by size."""
        faces = self._run(frame_bgr)
        h, w = frame_bgr.shape[:2]
        if camera is None:
            camera = self.retry_max_side is not None and max(h, w) > self.retry_max_side
        if camera:
            return self._reach(frame_bgr, faces) if self.reach_side else faces
        if faces or not self.pad_retry:
            return faces
        p = int(round(self.pad_retry * max(h, w)))
        padded = cv2.copyMakeBorder(frame_bgr, p, p, p, p, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        faces = [shifted(f, -p, -p) for f in self._run(padded)]
        if faces or not self.tile_retry:
            return faces
        return self._tiled(frame_bgr)

    def _tiled(self, frame_bgr: np.ndarray) -> list[Face]:
        """Faces found in 3x3 overlapping half-size tiles, merged by NMS."""
        h, w = frame_bgr.shape[:2]
        th, tw = (h + 1) // 2, (w + 1) // 2
        found: list[Face] = []
        for y0 in sorted({0, (h - th) // 2, h - th}):
            for x0 in sorted({0, (w - tw) // 2, w - tw}):
                tile = frame_bgr[y0:y0 + th, x0:x0 + tw]
                found += [shifted(f, x0, y0) for f in self._run(tile)]
        return merged(found)


def merged(faces: list[Face]) -> list[Face]:
    """Faces from several passes or tiles, duplicates removed by NMS, best score first."""
    if not faces:
        return []
    boxes = np.array([[f.x, f.y, f.x + f.w, f.y + f.h] for f in faces], np.float32)
    return [faces[i] for i in nms(boxes, np.array([f.score for f in faces], np.float32))]


def shifted(face: Face, dx: float, dy: float) -> Face:
    """The face moved by (dx, dy) pixels: from a tile or border back to the frame."""
    return Face(face.x + dx, face.y + dy, face.w, face.h, face.score,
                tuple((x + dx, y + dy) for x, y in face.keypoints))

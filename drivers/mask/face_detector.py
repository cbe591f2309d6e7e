"""BlazeFace short-range face detector run through ``cv2.dnn``.

The model takes a 1x3x128x128 RGB tensor scaled to [-1, 1] and returns 896
logits and 896x16 regressors (centre offset, size and 6 keypoints in input
pixels). Decoding, non-maximum suppression and letterboxing are pure NumPy
functions so they can be tested without the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from drivers.mask.crops import shrink

MODEL_PATH = Path(__file__).parent / "models" / "face_detection_short_range.tflite"
INPUT_SIZE = 128
NMS_IOU = 0.3


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


def make_anchors() -> np.ndarray:
    """The 896 anchor centres (x, y) in [0, 1]: 16x16 cells x 2, then 8x8 cells x 6."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


ANCHORS = make_anchors()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def decode(logits: np.ndarray, regressors: np.ndarray, score_threshold: float,
           anchors: np.ndarray = ANCHORS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs to (boxes x1,y1,x2,y2, scores, keypoints 6x2), all in [0, 1] input units."""
    raw = np.asarray(logits, np.float32).reshape(-1)
    keep = np.flatnonzero(raw >= np.log(score_threshold / (1.0 - score_threshold)))  # sigmoid(raw) >= threshold
    scores = sigmoid(raw[keep])
    reg = np.asarray(regressors, np.float32).reshape(-1, 16)[keep] / INPUT_SIZE
    anc = anchors[keep]
    cx = reg[:, 0] + anc[:, 0]
    cy = reg[:, 1] + anc[:, 1]
    w, h = reg[:, 2], reg[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = reg[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, scores, kps


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if order:
            rest = np.array(order)
            order = [int(j) for j in rest[iou(boxes[i], boxes[rest]) < iou_threshold]]
    return keep


def letterbox(image: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, float, float, float]:
    """Fit the image into a size x size square with black borders.

    Returns (square, scale, pad_x, pad_y) where frame = (input - pad) / scale.
    """
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = shrink(image, nw, nh)
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    square = np.zeros((size, size, image.shape[2]), np.uint8)
    square[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return square, scale, float(pad_x), float(pad_y)


def to_faces(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray,
             scale: float, pad_x: float, pad_y: float, size: int = INPUT_SIZE) -> list[Face]:
    """Map normalised input-square detections back to frame pixels."""
    faces = []
    for b, s, k in zip(boxes, scores, kps):
        x1, y1, x2, y2 = (b * size - [pad_x, pad_y, pad_x, pad_y]) / scale
        pts = tuple((float((px * size - pad_x) / scale), float((py * size - pad_y) / scale)) for px, py in k)
        faces.append(Face(float(x1), float(y1), float(x2 - x1), float(y2 - y1), float(s), pts))
    return faces


RETRY_MAX_SIDE = 400  # photos and crops; camera frames (640x480 and up) are larger


class FaceDetector:
    """Find faces in a BGR frame; largest first is up to the caller."""

    def __init__(self, score_threshold: float = 0.3, model_path: Optional[Path] = None,
                 pad_retry: float = 0.35) -> None:
        self.score_threshold = score_threshold
        self.pad_retry = pad_retry
        self._net = cv2.dnn.readNetFromTFLite(str(model_path or MODEL_PATH))
        self._outputs = ["classificators", "regressors"]

    def _run(self, frame_bgr: np.ndarray) -> list[Face]:
        square, scale, pad_x, pad_y = letterbox(frame_bgr)
        blob = cv2.dnn.blobFromImage(square, scalefactor=1 / 127.5, mean=(127.5, 127.5, 127.5), swapRB=True)
        self._net.setInput(blob)
        logits, regressors = self._net.forward(self._outputs)
        boxes, scores, kps = decode(logits, regressors, self.score_threshold)
        keep = nms(boxes, scores)
        return to_faces(boxes[keep], scores[keep], kps[keep], scale, pad_x, pad_y)

    def detect(self, frame_bgr: np.ndarray) -> list[Face]:
        """All faces, best score first. A tight face crop (a photo no larger than
        ``RETRY_MAX_SIDE``) that yields nothing is retried once with a grey border
        around it (the model expects context). Camera frames are not retried: an
        empty entrance would pay for the detector twice on every frame."""
        faces = self._run(frame_bgr)
        h, w = frame_bgr.shape[:2]
        if faces or not self.pad_retry or max(h, w) > RETRY_MAX_SIDE:
            return faces
        p = int(round(self.pad_retry * max(h, w)))
        padded = cv2.copyMakeBorder(frame_bgr, p, p, p, p, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        return [Face(f.x - p, f.y - p, f.w, f.h, f.score, tuple((x - p, y - p) for x, y in f.keypoints))
                for f in self._run(padded)]

"""Frame -> MaskObservation: detect faces, pick the visitor, classify the mask."""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from checkpoint.config import MaskConfig
from checkpoint.messages import Box, FaceQuality, MaskObservation
from drivers.mask.classifier import MaskClassifier
from drivers.mask.crops import crop_face
from drivers.mask.face_detector import RETRY_MAX_SIDE, Face, FaceDetector

Roi = tuple[float, float, float, float]
CONFIDENT_SCORE = 0.5  # faces at least this sure are preferred over larger, doubtful ones
FLAT_STD = 4.0  # a "face" whose pixels vary less than this (grey levels) is not one


def is_flat(frame_bgr: np.ndarray, face: Face) -> bool:
    """True when the face box holds no texture: the detector reports a face in
    an all-black frame (covered lens, lights off)."""
    h, w = frame_bgr.shape[:2]
    x0, y0 = max(int(face.x), 0), max(int(face.y), 0)
    x1, y1 = min(int(face.x + face.w), w), min(int(face.y + face.h), h)
    if x1 <= x0 or y1 <= y0:
        return True
    step = max(1, min(x1 - x0, y1 - y0) // 16)
    return float(frame_bgr[y0:y1:step, x0:x1:step].std()) < FLAT_STD


def choose_visitor(faces: Sequence[Face], frame_size: tuple[int, int], roi: Optional[Roi] = None,
                   min_face_px: float = 0) -> Optional[Face]:
    """The visitor: the largest face whose centre lies in the region of interest
    (fractions x, y, w, h of the frame) and whose shorter side is at least
    ``min_face_px``; None when there is none.

    Faces scoring at least CONFIDENT_SCORE are preferred: a large doubtful
    detection (a poster, a patterned shirt) does not hide a clear face."""
    width, height = frame_size
    candidates = []
    for f in faces:
        if min(f.w, f.h) < min_face_px:
            continue
        if roi is not None:
            cx, cy = (f.x + f.w / 2) / width, (f.y + f.h / 2) / height
            rx, ry, rw, rh = roi
            if not (rx <= cx <= rx + rw and ry <= cy <= ry + rh):
                continue
        candidates.append(f)
    confident = [f for f in candidates if f.score >= CONFIDENT_SCORE]
    return max(confident or candidates, key=lambda f: f.area, default=None)


def face_quality(face: Face, crop_bgr: np.ndarray) -> FaceQuality:
    """Size, sharpness (variance of the Laplacian: low is blurred) and mean
    brightness of the face crop."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
    return FaceQuality(size_px=float(min(face.w, face.h)), blur=float(std[0, 0]) ** 2, brightness=cv2.mean(grey)[0])


class MaskPipeline:
    """``still_images``: photos rather than camera frames (``mask eval``,
    ``mask detect``): a photo may be a tight face crop of any size or show a
    small person, so one without a face is retried with a border, then in
    overlapping quarters."""

    def __init__(self, config: MaskConfig, roi: Optional[Roi] = None, still_images: bool = False) -> None:
        self.config = config
        self.roi = roi
        self.detector = FaceDetector(config.face_score, retry_max_side=None if still_images else RETRY_MAX_SIDE,
                                     tile_retry=still_images)
        self.classifier = MaskClassifier(config.model or None)

    def faces(self, frame_bgr: np.ndarray) -> list[Face]:
        """All faces in the frame with their scores, best score first."""
        return [f for f in self.detector.detect(frame_bgr) if not is_flat(frame_bgr, f)]

    def crop(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(frame_bgr, (face.x, face.y, face.w, face.h), self.classifier.input_size)

    def classify(self, frame_bgr: np.ndarray, face: Face) -> dict[str, float]:
        return self.classifier.predict(self.crop(frame_bgr, face))

    def visitor(self, frame_bgr: np.ndarray, faces: Sequence[Face]) -> Optional[Face]:
        h, w = frame_bgr.shape[:2]
        return choose_visitor(faces, (w, h), self.roi, self.config.min_face_px)

    def observe(self, frame_bgr: np.ndarray, t: float) -> MaskObservation:
        h, w = frame_bgr.shape[:2]
        faces = self.faces(frame_bgr)
        face = self.visitor(frame_bgr, faces)
        if face is None:
            return MaskObservation(t=t, box=None, faces_in_frame=len(faces), frame_size=(w, h))
        crop = self.crop(frame_bgr, face)
        return MaskObservation(
            t=t,
            box=Box(face.x, face.y, face.w, face.h),
            probs=self.classifier.predict(crop),
            quality=face_quality(face, crop),
            faces_in_frame=len(faces),
            frame_size=(w, h),
        )

"""Frame -> MaskObservation: detect faces, pick the visitor, classify the mask."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import cv2
import numpy as np

from checkpoint.config import MaskConfig
from checkpoint.messages import Box, FaceQuality, MaskObservation
from drivers.mask.classifier import MaskClassifier
from drivers.mask.crops import crop_face
from drivers.mask.face_detector import RETRY_MAX_SIDE, Face, FaceDetector, shifted
from drivers.mask.pose import head_pose

Roi = tuple[float, float, float, float]
CONFIDENT_SCORE = 0.5  # faces at least this sure are preferred over larger, doubtful ones
STILL_FACE_SCORE = 0.3  # a photo is known to show someone: a lower threshold misses fewer tight crops
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


def covers_centre(face: Face, frame_size: tuple[int, int], grow: float = 0.5) -> bool:
    """True when the face box, grown by ``grow`` of its size on each side, holds the frame's centre."""
    cx, cy = frame_size[0] / 2, frame_size[1] / 2
    return (face.x - grow * face.w <= cx <= face.x + (1 + grow) * face.w
            and face.y - grow * face.h <= cy <= face.y + (1 + grow) * face.h)


def choose_visitor(faces: Sequence[Face], frame_size: tuple[int, int], roi: Optional[Roi] = None,
                   min_face_px: float = 0, photo: bool = False) -> Optional[Face]:
    """The visitor: the largest face whose centre lies in the region of interest
    (fractions x, y, w, h of the frame) and whose shorter side is at least
    ``min_face_px``; None when there is none.

    Faces scoring at least CONFIDENT_SCORE are preferred: a large doubtful
    detection (a poster, a patterned shirt) does not hide a clear face. With
    ``photo`` (a still photo of one person) the faces at the photo's centre
    come first, and of those the one nearest the centre for its size: a
    neighbour nearer the camera, or cheek to cheek, is not the subject."""
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
    central = [f for f in candidates if covers_centre(f, frame_size)] if photo else []
    if central:  # the subject: the face nearest the centre, for its size (cheek to cheek, the one in the middle)
        confident = [f for f in central if f.score >= CONFIDENT_SCORE] or central
        cx, cy = width / 2, height / 2
        return min(confident, key=lambda f: math.hypot(f.x + f.w / 2 - cx, f.y + f.h / 2 - cy) / max(f.w, f.h, 1.0))
    confident = [f for f in candidates if f.score >= CONFIDENT_SCORE]
    return max(confident or candidates, key=lambda f: f.area, default=None)


def face_quality(face: Face, crop_bgr: np.ndarray) -> FaceQuality:
    """Size, sharpness (variance of the Laplacian: low is blurred), mean
    brightness of the face crop, and head pose from the keypoints."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
    yaw, roll = head_pose(face.keypoints)
    return FaceQuality(size_px=float(min(face.w, face.h)), blur=float(std[0, 0]) ** 2, brightness=cv2.mean(grey)[0],
                       yaw_deg=None if yaw is None else round(yaw, 1),
                       roll_deg=None if roll is None else round(roll, 1))


ROI_MARGIN = 0.2  # the region searched reaches this share of the ROI's size beyond it on each side


def roi_pixels(roi: Roi, width: int, height: int, margin: float = ROI_MARGIN) -> tuple[int, int, int, int]:
    """The region of interest (fractions) as pixels x0, y0, x1, y1 inside the
    frame, grown by ``margin``: a face centred in the region but reaching
    beyond it is searched whole (the visitor is still chosen by its centre)."""
    rx, ry, rw, rh = roi
    rx, ry, rw, rh = rx - margin * rw, ry - margin * rh, rw * (1 + 2 * margin), rh * (1 + 2 * margin)
    x0, y0 = int(round(max(rx, 0.0) * width)), int(round(max(ry, 0.0) * height))
    x1, y1 = int(round(min(rx + rw, 1.0) * width)), int(round(min(ry + rh, 1.0) * height))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


class MaskPipeline:
    """Frame -> faces -> the visitor -> mask probabilities.

    ``still_images``: photos rather than camera frames (``mask eval``,
    ``mask detect --still``): a photo may be a tight face crop of any size or
    show a small person, so one without a face is retried with a border, then
    in overlapping quarters. Camera frames get the reach pass instead (see
    ``FaceDetector``). With a region of interest only that part of a frame is
    searched, at the detector's full input resolution. Every detection goes
    through the classifier's face check, which drops signs, ears, hands and
    patches of texture; the visitor's mask probabilities come from the same
    pass."""

    def __init__(self, config: MaskConfig, roi: Optional[Roi] = None, still_images: bool = False) -> None:
        self.config = config
        self.roi = roi
        self.still_images = still_images
        score = min(config.face_score, STILL_FACE_SCORE) if still_images else config.face_score
        self.detector = FaceDetector(score, retry_max_side=None if still_images else RETRY_MAX_SIDE,
                                     tile_retry=still_images, side=config.detector_side,
                                     reach_side=config.reach_side, reach_score=config.reach_score)
        self.classifier = MaskClassifier(config.model or None)
        self._probs: dict[int, tuple[dict[str, float], np.ndarray]] = {}  # id(face) -> classifier result

    def _detect(self, frame_bgr: np.ndarray) -> list[Face]:
        if self.roi is None:
            return self.detector.detect(frame_bgr)
        h, w = frame_bgr.shape[:2]
        x0, y0, x1, y1 = roi_pixels(self.roi, w, h)
        camera = None if self.detector.retry_max_side is None else max(h, w) > self.detector.retry_max_side
        return [shifted(f, x0, y0) for f in self.detector.detect(frame_bgr[y0:y1, x0:x1], camera=camera)]

    def faces(self, frame_bgr: np.ndarray) -> list[Face]:
        """All faces in the frame (in the region of interest), best score first.

        Every detection is checked by the classifier (one batch) and dropped
        when it judges it no face: the reach pass's low-scoring boxes of a
        small patch of texture are the commonest false faces, whatever their
        size. A still photo keeps its detections when the check would leave
        none large enough to be the visitor."""
        self._probs = {}
        found = [f for f in self._detect(frame_bgr) if not is_flat(frame_bgr, f)]
        if not found or not self.classifier.has_face_check:
            return found
        crops = [self.crop(frame_bgr, f) for f in found]
        dropped = set()
        for f, crop, (probs, p_not_face) in zip(found, crops, self.classifier.predict_many(crops)):
            if p_not_face >= self.config.face_check:
                dropped.add(id(f))
            else:
                self._probs[id(f)] = (probs, crop)
        kept = [f for f in found if id(f) not in dropped]
        if self.still_images and not any(min(f.w, f.h) >= self.config.min_face_px for f in kept):
            return found  # a photo is known to show someone: the check only ranks, it never empties it
        return kept

    def crop(self, frame_bgr: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(frame_bgr, (face.x, face.y, face.w, face.h), self.classifier.input_size)

    def _classified(self, frame_bgr: np.ndarray, face: Face) -> tuple[dict[str, float], np.ndarray]:
        known = self._probs.get(id(face))
        if known is not None:
            return known
        crop = self.crop(frame_bgr, face)
        return self.classifier.predict(crop), crop

    def classify(self, frame_bgr: np.ndarray, face: Face) -> dict[str, float]:
        return self._classified(frame_bgr, face)[0]

    def visitor(self, frame_bgr: np.ndarray, faces: Sequence[Face]) -> Optional[Face]:
        h, w = frame_bgr.shape[:2]
        return choose_visitor(faces, (w, h), self.roi, self.config.min_face_px, photo=self.still_images)

    def observe(self, frame_bgr: np.ndarray, t: float) -> MaskObservation:
        h, w = frame_bgr.shape[:2]
        faces = self.faces(frame_bgr)
        face = self.visitor(frame_bgr, faces)
        if face is None:
            return MaskObservation(t=t, box=None, faces_in_frame=len(faces), frame_size=(w, h))
        probs, crop = self._classified(frame_bgr, face)
        return MaskObservation(
            t=t,
            box=Box(face.x, face.y, face.w, face.h),
            probs=probs,
            quality=face_quality(face, crop),
            faces_in_frame=len(faces),
            frame_size=(w, h),
        )

"""Training data for the mask classifier: every face of the data folders
detected and cropped once (``prepare``), kept in an .npz cache between runs
(``load_or_prepare``).

A folder is either face photos in class folders (``with_mask/``,
``without_mask/``) or boxed scenes (``images/`` + ``annotations/``); a scene
also gives not-a-face negatives for the face check. Each sample is a context
crop (twice the inference crop, for training views) with the face's
keypoints in it, the inference crop (for validation), its class, its split
and its source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK
from drivers.mask.augment import CONTEXT, CONTEXT_EXTRA
from drivers.mask.crops import crop_face, crop_square
from drivers.mask.dataset import list_images, split_of
from drivers.mask.face_detector import INPUT_SIZE as DETECTOR_SIDE
from drivers.mask.face_detector import FaceDetector
from drivers.mask.pipeline import choose_visitor
from drivers.mask.scenes import PERSON_MARGIN, box_iou, is_scene_dir, list_scenes, match, person_photo, to_frame
from drivers.mask.synthetic import box_keypoints

NOT_FACE = "not_face"  # the face check: a detection that is no face (inside the driver only)
CLASSES = (MASK, NO_MASK, MASK_INCORRECT, NOT_FACE)
INPUT_SIZE = 64  # default side of the classifier's input crop

SCENE_MIN_TRAIN_PX = 20  # scene faces smaller than this (shorter side) are not trained on


def _to_context(box: tuple[float, float, float, float], kps: np.ndarray) -> np.ndarray:
    """Keypoints in frame pixels -> pixels of the context crop around ``box``."""
    cx, cy, side = crop_square(box, CONTEXT_EXTRA)
    return ((kps - [cx - side / 2, cy - side / 2]) * (CONTEXT / side)).astype(np.float32)


def _sample(image: np.ndarray, box, kps, input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ctx = crop_face(image, box, CONTEXT, CONTEXT_EXTRA)
    crop = crop_face(image, box, input_size)
    if box is None:
        h, w = image.shape[:2]
        box = ((w - max(w, h)) / 2, (h - max(w, h)) / 2, max(w, h), max(w, h))
        kps = box_keypoints((box[0] + 0.2 * box[2], box[1] + 0.2 * box[3], 0.6 * box[2], 0.6 * box[3]))
    return ctx, crop, _to_context(box, kps)


def _photo_samples(data_dir: Path, detector: FaceDetector, input_size: int, log: Callable[[str], None]):
    """Samples of the face-photo folders: the same detection and visitor choice as ``mask eval``."""
    items = list_images(data_dir)
    for i, (path, label) in enumerate(items):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log(f"skipping unreadable {path}")
            continue
        h, w = image.shape[:2]
        face = choose_visitor(detector.detect(image), (w, h), photo=True)
        box = (face.x, face.y, face.w, face.h) if face else None
        kps = np.array(face.keypoints[:4], np.float32) if face else None
        yield (*_sample(image, box, kps, input_size), label, split_of(path.name) == "val", face is not None,
               "photos")
        if (i + 1) % 1000 == 0:
            log(f"photos: {i + 1}/{len(items)}")


def _scene_samples(scene_dir: Path, detector: FaceDetector, input_size: int, log: Callable[[str], None]):
    """Samples of the boxed scene photos: every face of at least SCENE_MIN_TRAIN_PX
    is cut as a photo of one person; the detector's box on that photo (matched
    to the annotation) is used when it finds the face, else the annotation's."""
    scenes = list_scenes(scene_dir)
    for i, scene in enumerate(scenes):
        image = scene.read()
        if image is None:
            continue
        for face in scene.faces:
            if face.short_side < SCENE_MIN_TRAIN_PX:
                continue
            x, y, w, h = face.box
            margin = PERSON_MARGIN * max(w, h)
            x0, y0 = max(int(round(x - margin)), 0), max(int(round(y - margin)), 0)
            photo = person_photo(image, face.box)
            truth = (x - x0, y - y0, w, h)
            found = detector.detect(photo)
            j = match([truth], [(f.x, f.y, f.w, f.h) for f in found])[0][0]
            if j is not None:
                f = found[j]
                box, kps = (f.x, f.y, f.w, f.h), np.array(f.keypoints[:4], np.float32)
            else:
                box, kps = truth, box_keypoints(truth)
            yield (*_sample(photo, box, kps, input_size), face.label, scene.split == "val", True, "scenes")
        if (i + 1) % 200 == 0:
            log(f"scenes: {i + 1}/{len(scenes)}")


NOT_FACE_PASSES = ((DETECTOR_SIDE, 0.2), (256, 0.2), (320, 0.2))  # detector side, score threshold
NOT_FACE_VIEWS = ("frame", "zoom")  # the scene as a 640x480 frame, and its centre zoomed to fill one


def _not_face_samples(scene_dir: Path, input_size: int, log: Callable[[str], None]):
    """Hard negatives for the face check: what the detector reports in the
    scenes, seen as camera frames (whole, and the centre zoomed 1.6x), at the
    inference passes' sizes and lower thresholds, that is no annotated face
    (signs, ears, hands, backs of heads, patterns). A box overlapping a true
    face at all, or centred in one, is not used: it may be a face boxed
    differently. Near-duplicates (IoU > 0.5 with one kept) are skipped."""
    detectors = [FaceDetector(score, side=side, reach_side=0) for side, score in NOT_FACE_PASSES]
    scenes = list_scenes(scene_dir)
    for i, scene in enumerate(scenes):
        image = scene.read()
        if image is None:
            continue
        for view in NOT_FACE_VIEWS:
            photo, faces = image, [f.box for f in scene.faces]
            if view == "zoom":
                h, w = image.shape[:2]
                x0, y0 = int(w * 0.19), int(h * 0.19)
                photo = image[y0:h - y0, x0:w - x0]
                faces = [(x - x0, y - y0, bw, bh) for x, y, bw, bh in faces]
            frame, scale, ox, oy = to_frame(photo)
            truth = [(x * scale + ox, y * scale + oy, bw * scale, bh * scale) for x, y, bw, bh in faces]
            kept: list[tuple[float, float, float, float]] = []
            for detector in detectors:
                for f in detector.detect(frame, camera=True):
                    box = (f.x, f.y, f.w, f.h)
                    cx, cy = f.x + f.w / 2, f.y + f.h / 2
                    if min(f.w, f.h) < 24 or any(box_iou(box, t) > 0.0 or (t[0] <= cx <= t[0] + t[2] and
                                                                            t[1] <= cy <= t[1] + t[3])
                                                 for t in truth) or any(box_iou(box, k) > 0.5 for k in kept):
                        continue
                    kept.append(box)
                    yield (*_sample(frame, box, np.array(f.keypoints[:4], np.float32), input_size), NOT_FACE,
                           scene.split == "val", True, "not_face")
        if (i + 1) % 200 == 0:
            log(f"not-a-face: {i + 1}/{len(scenes)} scenes")


def prepare(data_dirs: list[Path], face_score: float, log: Callable[[str], None], input_size: int = INPUT_SIZE,
            not_face: bool = True) -> dict:
    """Detect and crop every face once: context crops (with keypoints) for
    training views, inference crops for validation. Each folder is either
    face photos (with_mask/, without_mask/) or boxed scenes (images/ + annotations/)."""
    detector = FaceDetector(face_score, retry_max_side=None, tile_retry=True)  # photos, as in `mask eval`
    rows = []
    for data_dir in data_dirs:
        if is_scene_dir(data_dir):
            rows += list(_scene_samples(Path(data_dir), detector, input_size, log))
            if not_face:
                rows += list(_not_face_samples(Path(data_dir), input_size, log))
        else:
            rows += list(_photo_samples(Path(data_dir), detector, input_size, log))
    ctx, crops, kps, labels, is_val, found, origin = zip(*rows)
    data = {"ctx": np.stack(ctx), "crops": np.stack(crops), "kps": np.stack(kps),
            "labels": np.array([CLASSES.index(lb) for lb in labels]), "val": np.array(is_val),
            "found": np.array(found), "source": np.array(origin)}
    for name in sorted(set(origin)):
        sel = data["source"] == name
        log(f"{name}: {int(sel.sum())} faces, " + ", ".join(
            f"{c} {int((data['labels'][sel] == k).sum())}" for k, c in enumerate(CLASSES))
            + f", no face found {int((~data['found'][sel]).sum())}")
    return data


def load_or_prepare(data_dirs: list[Path], face_score: float, log: Callable[[str], None], input_size: int,
                    cache: Optional[Path]) -> dict:
    """``prepare``, or its result saved in ``cache`` (an .npz) by an earlier run
    on the same folders and settings."""
    key = json.dumps({"dirs": [str(Path(d).resolve()) for d in data_dirs], "face_score": face_score,
                      "input_size": input_size, "classes": list(CLASSES), "not_face": [NOT_FACE_PASSES,
                                                                                          NOT_FACE_VIEWS]})
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as saved:
            if str(saved["key"]) == key:
                log(f"faces from {cache}")
                return {k: saved[k] for k in saved.files if k != "key"}
    data = prepare(data_dirs, face_score, log, input_size)
    if cache is not None:
        np.savez(cache, key=np.array(key), **data)
    return data

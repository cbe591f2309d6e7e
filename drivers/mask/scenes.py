"""Scene photos with every face boxed (PASCAL VOC), their split, and the two
ways the project looks at them: as 640x480 camera frames (face detection) and
as photos of one person cut around each face (mask classification).

The layout is that of ``../shared/datasets/scenes-kaggle-cc0``: ``images/X.jpg``
and ``annotations/X.xml``, one ``<object>`` per face with a ``name``
(``with_mask``, ``without_mask``, ``mask_weared_incorrect``) and a ``bndbox``.
The split is by photo, never by face: faces of one photo share its light and
camera.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK
from drivers.mask.dataset import split_of

LABELS = {"with_mask": MASK, "without_mask": NO_MASK, "mask_weared_incorrect": MASK_INCORRECT,
          "mask_incorrect": MASK_INCORRECT}
FRAME_SIZE = (640, 480)
PERSON_MARGIN = 1.0  # a cut "photo of one person" adds this much of the face side on each side


@dataclass(frozen=True)
class SceneFace:
    label: str  # MASK, NO_MASK or MASK_INCORRECT
    box: tuple[float, float, float, float]  # x, y, w, h in the photo's pixels

    @property
    def short_side(self) -> float:
        return min(self.box[2], self.box[3])


@dataclass(frozen=True)
class Scene:
    image_path: Path
    faces: tuple[SceneFace, ...]

    @property
    def split(self) -> str:
        return split_of(self.image_path.stem)

    def read(self) -> Optional[np.ndarray]:
        return cv2.imread(str(self.image_path), cv2.IMREAD_COLOR)


def read_annotation(path: Path) -> tuple[str, tuple[SceneFace, ...]]:
    """(file name, faces) from one VOC XML file; unknown labels raise ValueError."""
    root = ET.parse(path).getroot()
    faces = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in LABELS:
            raise ValueError(f"{path}: unknown face label {name!r}")
        bb = obj.find("bndbox")
        if bb is None:
            raise ValueError(f"{path}: a {name!r} face without a bndbox")
        x0, y0, x1, y1 = (float(bb.findtext(k, "")) for k in ("xmin", "ymin", "xmax", "ymax"))
        faces.append(SceneFace(LABELS[name], (x0, y0, x1 - x0, y1 - y0)))
    return (root.findtext("filename") or path.stem + ".jpg").strip(), tuple(faces)


def list_scenes(data_dir: str | Path, split: Optional[str] = None) -> list[Scene]:
    """Every annotated photo under DATA_DIR (images/ + annotations/), sorted by
    name; ``split`` 'train' or 'val' keeps that part (by photo)."""
    root = Path(data_dir)
    ann_dir, img_dir = root / "annotations", root / "images"
    if not ann_dir.is_dir() or not img_dir.is_dir():
        raise FileNotFoundError(f"{root} has no images/ and annotations/ folders")
    scenes = []
    for ann in sorted(ann_dir.glob("*.xml")):
        _, faces = read_annotation(ann)
        image = next((p for p in (img_dir / (ann.stem + s) for s in (".jpg", ".jpeg", ".png")) if p.is_file()), None)
        if image is None:
            continue
        scene = Scene(image, faces)
        if split is None or scene.split == split:
            scenes.append(scene)
    return scenes


def is_scene_dir(path: str | Path) -> bool:
    root = Path(path)
    return (root / "annotations").is_dir() and (root / "images").is_dir()


def to_frame(image: np.ndarray, size: tuple[int, int] = FRAME_SIZE) -> tuple[np.ndarray, float, float, float]:
    """The photo scaled to fit a camera frame of ``size`` (width, height),
    centred on black. Returns (frame, scale, offset x, offset y): frame
    pixel = photo pixel * scale + offset."""
    fw, fh = size
    h, w = image.shape[:2]
    scale = min(fw / w, fh / h)
    nw, nh = round(w * scale), round(h * scale)
    ox, oy = (fw - nw) // 2, (fh - nh) // 2
    frame = np.zeros((fh, fw, 3), np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    frame[oy:oy + nh, ox:ox + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return frame, scale, float(ox), float(oy)


def person_photo(image: np.ndarray, box: tuple[float, float, float, float],
                 margin: float = PERSON_MARGIN) -> np.ndarray:
    """The face cut out of the scene as a photo of one person: the box grown
    by ``margin`` x its larger side on each side, clipped to the photo."""
    x, y, w, h = box
    m = margin * max(w, h)
    H, W = image.shape[:2]
    x0, y0 = max(int(round(x - m)), 0), max(int(round(y - m)), 0)
    x1, y1 = min(int(round(x + w + m)), W), min(int(round(y + h + m)), H)
    return image[y0:y1, x0:x1].copy()


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(truth: list[tuple[float, float, float, float]], found: list[tuple[float, float, float, float]],
          min_iou: float = 0.3) -> tuple[list[Optional[int]], int]:
    """Greedy one-to-one matching of found boxes to true boxes by IoU (best
    pairs first). Returns, per true box, the index of its found box or None,
    and the number of found boxes that match nothing (false detections).

    The threshold is loose (0.3) because annotators box the face differently
    from the detector (forehead, chin); a box on another face still fails it."""
    pairs = sorted(((box_iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    of_truth: list[Optional[int]] = [None] * len(truth)
    used: set[int] = set()
    for score, i, j in pairs:
        if score < min_iou:
            break
        if of_truth[i] is None and j not in used:
            of_truth[i] = j
            used.add(j)
    return of_truth, len(found) - len(used)


SIZE_BUCKETS = ((20, 40), (40, 60), (60, 100), (100, 10_000))


def bucket_of(short_side: float) -> Optional[str]:
    for lo, hi in SIZE_BUCKETS:
        if lo <= short_side < hi:
            return f"{lo}-{hi}" if hi < 10_000 else f">={lo}"
    return None

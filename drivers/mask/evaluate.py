"""Run the full pipeline (detect, pick the visitor, classify, verdict) over a labelled set.

A set is either face photos in class folders (``with_mask/``,
``without_mask/``, ``mask_incorrect/``) or boxed scenes (``images/`` +
``annotations/``), whose faces are cut out as photos of one person
(``scenes.person_photo``). Each photo gets the gate's own verdict
(``checkpoint.mask_verdict``): let in, refused, or uncertain (measure again).

Figures are the gate's view, which is what a visitor meets (balanced
accuracy is the mean of the masked and bare recalls, as two-class peers report
it; ``balanced_accuracy_3`` adds the incorrect class where there is one):
``recall_with_mask`` is the share of masked faces let in; ``recall_without_mask``
and ``recall_mask_incorrect`` (also ``incorrect_not_let_in``) the shares of bare
and incorrectly masked faces not let in. A photo where no face is found counts
as wrong for every class. The confusion matrix gives the verdicts themselves.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import cv2
import numpy as np

from checkpoint.config import MaskConfig
from checkpoint.mask_verdict import mask_verdict
from checkpoint.messages import MASK, MASK_CLASSES, MASK_INCORRECT, NO_MASK, UNCERTAIN
from drivers.mask.dataset import list_images
from drivers.mask.pipeline import MaskPipeline
from drivers.mask.scenes import is_scene_dir, list_scenes, person_photo

log = logging.getLogger(__name__)
NO_FACE = "no_face"
VERDICTS = (MASK, NO_MASK, MASK_INCORRECT, UNCERTAIN, NO_FACE)
RECALL_KEYS = {MASK: "recall_with_mask", NO_MASK: "recall_without_mask", MASK_INCORRECT: "recall_mask_incorrect"}
SCENE_MIN_FACE_PX = 40  # scene faces smaller than this (shorter side, in the photo) are not cut out


def summarise(results: list[tuple[str, Optional[str], float]]) -> dict:
    """(true class, verdict or None when no face, seconds) per image -> figures."""
    n = len(results)
    verdicts = [(truth, NO_FACE if v is None else v, s) for truth, v, s in results]
    out: dict = {"images": n}
    recalls = []
    confusion: dict[str, dict[str, int]] = {}
    for cls in MASK_CLASSES:
        rows = [v for truth, v, _ in verdicts if truth == cls]
        if not rows:
            out[RECALL_KEYS[cls]] = None
            continue
        confusion[cls] = {v: rows.count(v) for v in VERDICTS}
        right = sum(v == MASK for v in rows) if cls == MASK else sum(v not in (MASK, NO_FACE) for v in rows)
        out[RECALL_KEYS[cls]] = round(right / len(rows), 4)
        recalls.append(right / len(rows))
    two = [out[RECALL_KEYS[c]] for c in (MASK, NO_MASK) if out[RECALL_KEYS[c]] is not None]
    out["balanced_accuracy"] = round(sum(two) / len(two), 4) if two else None  # masked vs bare, as peers report
    out["balanced_accuracy_3"] = round(sum(recalls) / len(recalls), 4) if recalls else None  # with incorrect wear
    out["incorrect_not_let_in"] = out[RECALL_KEYS[MASK_INCORRECT]]
    out["accuracy"] = round(sum((v == MASK) == (t == MASK) and v != NO_FACE for t, v, _ in verdicts) / n, 4) \
        if n else None
    out["uncertain_rate"] = round(sum(v == UNCERTAIN for _, v, _ in verdicts) / n, 4) if n else None
    out["no_face_rate"] = round(sum(v == NO_FACE for _, v, _ in verdicts) / n, 4) if n else None
    out["median_ms"] = round(statistics.median(s for _, _, s in verdicts) * 1000, 3) if n else None
    out["confusion"] = confusion
    return out


def labelled_photos(data_dir: str | Path, split: Optional[str] = None,
                    scene_min_face_px: int = SCENE_MIN_FACE_PX) -> Iterator[tuple[str, str, Optional[np.ndarray]]]:
    """(name, true class, image or None when unreadable) for every photo of the set."""
    if is_scene_dir(data_dir):
        for scene in list_scenes(data_dir, split):
            image = scene.read()
            for k, face in enumerate(scene.faces):
                if face.short_side >= scene_min_face_px:
                    yield f"{scene.image_path.name}#{k}", face.label, None if image is None else person_photo(
                        image, face.box)
        return
    for path, label in list_images(data_dir, split):
        yield str(path), label, cv2.imread(str(path), cv2.IMREAD_COLOR)


def evaluate(data_dir: str | Path, config: MaskConfig, split: Optional[str] = None,
             limit: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
             mask_threshold: Optional[float] = None, refuse_threshold: Optional[float] = None,
             still: bool = True, scene_min_face_px: int = SCENE_MIN_FACE_PX) -> dict:
    """Figures of the full pipeline on a labelled set (see the module docstring).

    Thresholds default to those of ``mask_verdict``; ``still`` treats inputs as
    photos (border and tile retries), as ``mask eval`` does."""
    pipeline = MaskPipeline(config, still_images=still)
    items = list(labelled_photos(data_dir, split, scene_min_face_px))
    if limit:
        step = max(len(items) // limit, 1)
        items = items[::step][:limit]  # spread over the classes
    kwargs = {k: v for k, v in (("mask_threshold", mask_threshold), ("refuse_threshold", refuse_threshold))
              if v is not None}
    results, unreadable = [], 0
    for i, (name, label, image) in enumerate(items):
        if image is None or image.size == 0:
            unreadable += 1
            log.warning("cannot read %s: not counted", name)
            continue
        start = time.perf_counter()
        obs = pipeline.observe(image, 0.0)
        verdict = mask_verdict(obs.probs, **kwargs) if obs.has_face else None
        results.append((label, verdict, time.perf_counter() - start))
        if progress:
            progress(i + 1, len(items))
    return {**summarise(results), "unreadable": unreadable}

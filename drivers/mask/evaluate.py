"""Run the full pipeline (detect, pick the visitor, classify) over a labelled folder."""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Callable, Optional

import cv2

from checkpoint.config import MaskConfig
from checkpoint.messages import MASK, NO_MASK
from drivers.mask.dataset import list_images
from drivers.mask.pipeline import MaskPipeline

log = logging.getLogger(__name__)


def summarise(results: list[tuple[str, Optional[str], float]]) -> dict:
    """(true class, predicted class or None when no face, seconds) per image -> figures.

    An image where no face was found counts as wrong."""
    n = len(results)

    def recall(cls: str) -> Optional[float]:
        rows = [r for r in results if r[0] == cls]
        return round(sum(r[1] == cls for r in rows) / len(rows), 4) if rows else None

    return {
        "images": n,
        "accuracy": round(sum(r[0] == r[1] for r in results) / n, 4) if n else None,
        "recall_with_mask": recall(MASK),
        "recall_without_mask": recall(NO_MASK),
        "no_face_rate": round(sum(r[1] is None for r in results) / n, 4) if n else None,
        "median_ms": round(statistics.median(r[2] for r in results) * 1000, 3) if n else None,
    }


def evaluate(data_dir: str | Path, config: MaskConfig, split: Optional[str] = None,
             limit: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None) -> dict:
    pipeline = MaskPipeline(config, still_images=True)
    items = list_images(data_dir, split)
    if limit:
        step = max(len(items) // limit, 1)
        items = items[::step][:limit]  # spread over both classes
    results, unreadable = [], 0
    for i, (path, label) in enumerate(items):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            unreadable += 1
            log.warning("cannot read %s: not counted", path)
            continue
        start = time.perf_counter()
        obs = pipeline.observe(image, 0.0)
        elapsed = time.perf_counter() - start
        results.append((label, obs.mask_class if obs.has_face else None, elapsed))
        if progress:
            progress(i + 1, len(items))
    return {**summarise(results), "unreadable": unreadable}

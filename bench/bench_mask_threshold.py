"""The safety operating point: each class's recall against the mask threshold.

    .venv/bin/python bench/bench_mask_threshold.py [--model FILE] [--json]

Runs the full still-photo pipeline once over the validation photos of both
shared sources (faces-chandrikadeb7, and the scenes-kaggle-cc0 faces of at
least 40 px cut as photos of one person) plus synthetic incorrect wear drawn
on the validation bare faces (drivers/mask/synthetic.py, seeded), keeps
p(mask) of the visitor's face, and prints, for each threshold, the share of
masked faces let in and of bare and incorrect faces not let in (no face found
counts as wrong). The gate's threshold lives in checkpoint/mask_verdict.py;
the model card's curve comes from this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_mask import SOURCES, shared_dir, validation_photos  # noqa: E402

from checkpoint.config import MaskConfig  # noqa: E402
from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD  # noqa: E402
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK  # noqa: E402
from drivers.mask.pipeline import MaskPipeline  # noqa: E402
from drivers.mask.synthetic import draw_incorrect_mask  # noqa: E402

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def p_mask_of(pipeline: MaskPipeline, images) -> list[tuple[str, float | None]]:
    out = []
    for image, label in images:
        obs = pipeline.observe(image, 0.0)
        out.append((label, obs.probs.get(MASK, 0.0) if obs.has_face else None))
    return out


def synthetic_incorrect(pipeline: MaskPipeline, images, seed: int = 7) -> list[tuple[np.ndarray, str]]:
    """Validation bare faces with a mask drawn below the nose or under the chin."""
    rng = np.random.default_rng(seed)
    out = []
    for image, label in images:
        if label != NO_MASK:
            continue
        faces = pipeline.faces(image)
        face = pipeline.visitor(image, faces)
        if face is None or len(face.keypoints) < 4:
            continue
        drawn = image.copy()
        draw_incorrect_mask(drawn, np.array(face.keypoints[:4], np.float32), rng)
        out.append((drawn, MASK_INCORRECT))
    return out


def curve(scored: list[tuple[str, float | None]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for cls in (MASK, NO_MASK, MASK_INCORRECT):
        ps = [p for label, p in scored if label == cls]
        if not ps:
            continue
        table[cls] = {}
        for t in THRESHOLDS:
            if cls == MASK:
                right = sum(p is not None and p >= t for p in ps)
            else:
                right = sum(p is not None and p < t for p in ps)
            table[cls][f"{t:.2f}"] = round(right / len(ps), 4)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="mask classifier file (default: the shipped one)")
    parser.add_argument("--limit", type=int, help="an evenly spread sample of this many photos per source")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (shared_dir() / "datasets" / SOURCES[0]).is_dir():
        print("bench_mask_threshold: skipped, ../shared/datasets is absent")
        return 0
    cv2.setNumThreads(1)
    pipeline = MaskPipeline(MaskConfig(min_face_px=8, model=args.model or ""), still_images=True)
    results = {}
    for source in SOURCES:
        if not (shared_dir() / "datasets" / source).is_dir():
            continue
        photos = validation_photos(source, args.limit)
        results[source] = curve(p_mask_of(pipeline, photos))
        results[f"{source} + synthetic incorrect"] = curve(p_mask_of(pipeline, synthetic_incorrect(pipeline, photos)))
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"share right at each mask threshold (p(mask) >= t lets in); the gate uses {DEFAULT_MASK_THRESHOLD}")
    print("| set | class | " + " | ".join(f"{t:.2f}" for t in THRESHOLDS) + " |")
    print("|---|---|" + "---|" * len(THRESHOLDS))
    for name, table in results.items():
        for cls, row in table.items():
            what = {MASK: "masked let in", NO_MASK: "bare not let in", MASK_INCORRECT: "incorrect not let in"}[cls]
            print(f"| {name} | {what} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

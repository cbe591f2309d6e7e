"""Mask pipeline under the gate's hard conditions, ours and the peer side by side.

    .venv/bin/python bench/bench_mask_conditions.py [--limit N]

The validation split (../shared/datasets/faces-chandrikadeb7, split by
file-name hash) is run through the full pipeline as it is and with one
condition applied to every image: dim light, backlight, motion blur, sensor
noise, a greyscale (IR-like) camera, heavy JPEG compression, a far face
(downscaled to a third and back). These are the conditions peers' users
report failures under (DESIGN.md section 4); the photos themselves were taken
in good light. Dark masks and dark skin are not synthesised: colour shifts
cannot make them honestly. Prints accuracy and recall per class for each
condition; no face found counts as wrong. CHECKPOINT_SHARED_DIR overrides
../shared.
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

from bench_mask import AizooPeer, predicted_class, shared_dir, validation_split  # noqa: E402
from checkpoint.config import MaskConfig  # noqa: E402
from checkpoint.messages import MASK, NO_MASK  # noqa: E402
from drivers.mask.pipeline import MaskPipeline  # noqa: E402


def gamma(image: np.ndarray, g: float, gain: float = 1.0) -> np.ndarray:
    lut = np.clip(255.0 * gain * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


def motion_blur(image: np.ndarray, length: int = 7) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return cv2.filter2D(image, -1, kernel)


def noise(image: np.ndarray, sigma: float = 12.0) -> np.ndarray:
    rng = np.random.default_rng(int(image[::7, ::7].sum()) % (2**32))  # same noise on every run
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 15) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def far(image: np.ndarray, factor: float = 3.0) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


CONDITIONS = {
    "as photographed": lambda im: im,
    "dim (gamma 2, 60 %)": lambda im: gamma(im, 2.0, 0.6),
    "backlit (face 35 %)": lambda im: gamma(im, 1.0, 0.35),
    "motion blur 7 px": motion_blur,
    "sensor noise sd 12": noise,
    "greyscale camera": grey,
    "JPEG quality 15": jpeg,
    "far (1/3 size)": far,
}


def figures(got: list, labels: list[str]) -> dict:
    right = [g == label for g, label in zip(got, labels)]
    per = {c: [r for r, label in zip(right, labels) if label == c] for c in (MASK, NO_MASK)}
    return {"accuracy": round(float(np.mean(right)), 4),
            "recall_with_mask": round(float(np.mean(per[MASK] or [0])), 4),
            "recall_without_mask": round(float(np.mean(per[NO_MASK] or [0])), 4),
            "no_face_rate": round(sum(g is None for g in got) / len(got), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="use an evenly spread sample of this many validation images")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    data = shared_dir() / "datasets" / "faces-chandrikadeb7"
    peer_dir = shared_dir() / "peers" / "aizootech-facemask"
    if not data.is_dir():
        print(f"bench_mask_conditions: skipped, {data} is absent (set CHECKPOINT_SHARED_DIR)")
        return 0
    cv2.setNumThreads(1)
    split = validation_split(args.limit)
    images, labels = [image for image, _ in split], [label for _, label in split]
    pipeline = MaskPipeline(MaskConfig(min_face_px=8), still_images=True)
    models = {"checkpoint": lambda im: predicted_class(pipeline.observe(im, 0.0))}
    if (peer_dir / "face_mask_detection.caffemodel").is_file():
        models["aizootech-ssd"] = AizooPeer(peer_dir).predict
    rows = []
    for condition, apply in CONDITIONS.items():
        altered = [apply(im) for im in images]
        for name, predict in models.items():
            rows.append({"condition": condition, "model": name, "images": len(altered),
                         **figures([predict(im) for im in altered], labels)})
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"validation split of {data} ({len(images)} images), full pipeline, no face counts as wrong")
    print(f"{'condition':22s} {'model':14s} {'accuracy':>8s} {'rec mask':>8s} {'rec none':>8s} {'no face':>8s}")
    for r in rows:
        print(f"{r['condition']:22s} {r['model']:14s} {r['accuracy']:8.4f} {r['recall_with_mask']:8.4f} "
              f"{r['recall_without_mask']:8.4f} {r['no_face_rate']:8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mask pipeline under the gate's hard conditions, ours and the peer side by side.

    .venv/bin/python bench/bench_mask_conditions.py [--limit N]

The validation split (../shared/datasets/faces-chandrikadeb7, split by
file-name hash) is run through the full pipeline as it is and with one
condition applied to every image: dim light, backlight, motion blur, sensor
noise, a greyscale (IR-like) camera, heavy JPEG compression, a far face
(downscaled to a third and back). These are the conditions peers' users
report failures under (DESIGN.md section 4); the photos themselves were taken
in good light. Dark masks and dark skin are not synthesised: colour shifts
cannot make them honestly. Tilted (35 degrees) and turned (a perspective
warp) heads are the other weak spots. Prints the gate's figures for each
condition (masked let in, bare not let in, their mean); no face found counts
as wrong. CHECKPOINT_SHARED_DIR overrides
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
from drivers.mask.evaluate import summarise  # noqa: E402
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


def tilted(image: np.ndarray, angle: float = 35.0) -> np.ndarray:
    """The head tilted towards a shoulder (the whole photo rotated, edges reflected)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def turned(image: np.ndarray, amount: float = 0.25) -> np.ndarray:
    """The head turned: one side of the photo shrunk and squeezed by a perspective warp."""
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0], [w * (1 - amount), h * amount / 2], [w * (1 - amount), h * (1 - amount / 2)], [0, h]])
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(src, dst), (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT101)


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
    "tilted 35 degrees": tilted,
    "turned (perspective 25 %)": turned,
}


def figures(got: list, labels: list[str]) -> dict:
    """The gate's figures (drivers/mask/evaluate.py): masked let in, bare not let in, no face wrong."""
    out = summarise([(label, g, 0.0) for g, label in zip(got, labels)])
    return {k: out[k] for k in ("accuracy", "recall_with_mask", "recall_without_mask", "balanced_accuracy",
                                "no_face_rate")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="use an evenly spread sample of this many validation images")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--model", help="mask classifier file (default: the shipped one)")
    args = parser.parse_args()
    data = shared_dir() / "datasets" / "faces-chandrikadeb7"
    peer_dir = shared_dir() / "peers" / "aizootech-facemask"
    if not data.is_dir():
        print(f"bench_mask_conditions: skipped, {data} is absent (set CHECKPOINT_SHARED_DIR)")
        return 0
    cv2.setNumThreads(1)
    split = validation_split(args.limit)
    images, labels = [image for image, _ in split], [label for _, label in split]
    pipeline = MaskPipeline(MaskConfig(min_face_px=8, model=args.model or ""), still_images=True)
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
    print(f"{'condition':26s} {'model':14s} {'masked in':>9s} {'bare out':>8s} {'bal acc':>8s} {'no face':>8s}")
    for r in rows:
        print(f"{r['condition']:26s} {r['model']:14s} {r['recall_with_mask']:9.4f} {r['recall_without_mask']:8.4f} "
              f"{r['balanced_accuracy']:8.4f} {r['no_face_rate']:8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

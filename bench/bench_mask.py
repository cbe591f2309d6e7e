"""Benchmark: our mask pipeline vs the AIZOOTech SSD face-mask detector.

    .venv/bin/python bench/bench_mask.py [--limit N] [--passes 3]

Both run on ONE OpenCV thread over the same validation photos of both shared
sources: faces-chandrikadeb7 (split by file-name hash) and the faces of at
least 40 px of scenes-kaggle-cc0 (split by photo), cut out as photos of one
person, as ``mask eval`` sees them. The photos go through as they are; then
the chandrikadeb7 photos are placed in a 640x480 grey camera frame (height
scaled to 360 px) and timed over several passes. The two models take turns
on every image, so a busy spell of this shared machine slows both alike.

Figures are the gate's (drivers/mask/evaluate.py): masked faces let in, bare
and incorrectly worn masks not let in, their mean (balanced accuracy), and
the confusion matrix. Ours decides with the gate's verdict (an uncertain
face is asked to face the camera: not let in); the peer has two classes, its
"no mask" refuses. No face counts as wrong. Times are medians, pooled and per
pass (the spread between passes shows how steady the machine was). The peer
model is read from ../shared/peers and is never copied into the repository.
CHECKPOINT_SHARED_DIR overrides ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from checkpoint.config import MaskConfig  # noqa: E402
from checkpoint.mask_verdict import mask_verdict  # noqa: E402
from checkpoint.messages import MASK, NO_MASK  # noqa: E402
from drivers.mask.evaluate import labelled_photos, summarise  # noqa: E402
from drivers.mask.face_detector import iou  # noqa: E402
from drivers.mask.pipeline import MaskPipeline  # noqa: E402


def shared_dir() -> Path:
    return Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")


class AizooPeer:
    """AIZOOTech/FaceMaskDetection (MIT): Caffe SSD, 260x260 RGB in [0, 1]."""

    FEATURE_MAPS = (33, 17, 9, 5, 3)
    SIZES = ((0.04, 0.056), (0.08, 0.11), (0.16, 0.22), (0.32, 0.45), (0.64, 0.72))
    RATIOS = (1.0, 0.62, 0.42)
    VARIANCES = np.array([0.1, 0.1, 0.2, 0.2], np.float32)
    CLASSES = (MASK, NO_MASK)

    def __init__(self, folder: Path, conf: float = 0.5, nms_iou: float = 0.4) -> None:
        self.net = cv2.dnn.readNetFromCaffe(str(folder / "face_mask_detection.prototxt"),
                                            str(folder / "face_mask_detection.caffemodel"))
        self.conf, self.nms_iou = conf, nms_iou
        self.anchors = self.make_anchors()

    @classmethod
    def make_anchors(cls) -> np.ndarray:
        """x1, y1, x2, y2 in [0, 1]: per cell, every size at ratio 1, then the first size at the other ratios."""
        out = []
        for fm, sizes in zip(cls.FEATURE_MAPS, cls.SIZES):
            ys, xs = np.mgrid[0:fm, 0:fm]
            centres = np.stack([(xs.ravel() + 0.5) / fm, (ys.ravel() + 0.5) / fm], 1)
            wh = [(s * np.sqrt(cls.RATIOS[0]), s / np.sqrt(cls.RATIOS[0])) for s in sizes]
            wh += [(sizes[0] * np.sqrt(r), sizes[0] / np.sqrt(r)) for r in cls.RATIOS[1:]]
            wh = np.array(wh, np.float32)
            c = np.repeat(centres, len(wh), 0)
            half = np.tile(wh, (len(centres), 1)) / 2
            out.append(np.concatenate([c - half, c + half], 1))
        return np.concatenate(out).astype(np.float32)

    def detect(self, frame_bgr: np.ndarray) -> list[tuple[float, float, float, float, float, str]]:
        """Every face: (x, y, w, h in frame pixels, score, class), best score first."""
        h, w = frame_bgr.shape[:2]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        self.net.setInput(cv2.dnn.blobFromImage(rgb, 1 / 255.0, (260, 260)))
        loc, cls = self.net.forward(["loc_branch_concat", "cls_branch_concat"])
        loc, cls = loc.reshape(-1, 4) * self.VARIANCES, cls.reshape(-1, 2)
        a = self.anchors
        aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        cx, cy = a[:, 0] + aw / 2 + loc[:, 0] * aw, a[:, 1] + ah / 2 + loc[:, 1] * ah
        bw, bh = np.exp(loc[:, 2]) * aw, np.exp(loc[:, 3]) * ah
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        score, label = cls.max(1), cls.argmax(1)
        keep = np.flatnonzero(score > self.conf)
        order = keep[np.argsort(-score[keep])]
        kept = []
        while order.size:
            i = order[0]
            kept.append(i)
            order = order[1:][iou(boxes[i], boxes[order[1:]]) < self.nms_iou]
        return [(float(boxes[i, 0] * w), float(boxes[i, 1] * h), float((boxes[i, 2] - boxes[i, 0]) * w),
                 float((boxes[i, 3] - boxes[i, 1]) * h), float(score[i]), self.CLASSES[int(label[i])]) for i in kept]

    def predict(self, frame_bgr: np.ndarray) -> str | None:
        """Class of the largest face, or None when no face is found."""
        faces = self.detect(frame_bgr)
        if not faces:
            return None
        return max(faces, key=lambda f: f[2] * f[3])[5]


def in_camera_frame(image: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640, 3), 110, np.uint8)
    s = 360 / image.shape[0]
    im = cv2.resize(image, (min(int(round(image.shape[1] * s)), 600), 360), interpolation=cv2.INTER_LINEAR)
    y, x = (480 - im.shape[0]) // 2, (640 - im.shape[1]) // 2
    frame[y:y + im.shape[0], x:x + im.shape[1]] = im
    return frame


SOURCES = ("faces-chandrikadeb7", "scenes-kaggle-cc0")


def validation_photos(source: str, limit: int | None) -> list[tuple[np.ndarray, str]]:
    """(image, label) of a source's validation split, or an evenly spread sample of ``limit``."""
    items = [(image, label) for _, label, image in labelled_photos(shared_dir() / "datasets" / source, "val")
             if image is not None and image.size]
    if limit:
        items = items[::max(len(items) // limit, 1)][:limit]
    return items


def validation_split(limit: int | None) -> list[tuple[np.ndarray, str]]:
    """(image, label) for the chandrikadeb7 validation split (bench_mask_conditions uses it)."""
    return validation_photos(SOURCES[0], limit)


def predicted_class(observation) -> str | None:
    """The gate's verdict on the chosen face; None when no face was found (counts as wrong)."""
    return mask_verdict(observation.probs) if observation.has_face else None


def run(models: dict, images: list[tuple[np.ndarray, str]], passes: int) -> list[dict]:
    """Each image goes through every model in turn (so a busy spell of the
    machine hits both alike), ``passes`` times; figures from the first pass,
    times pooled over all passes plus the median of each pass."""
    for predict in models.values():  # warm up
        for image, _ in images[:3]:
            predict(image)
    got = {name: [] for name in models}
    times = {name: [[] for _ in range(passes)] for name in models}
    cpu = {name: [] for name in models}
    for p in range(passes):
        for image, _ in images:
            for name, predict in models.items():
                start, start_cpu = time.perf_counter(), time.thread_time()
                result = predict(image)
                times[name][p].append(time.perf_counter() - start)
                cpu[name].append(time.thread_time() - start_cpu)
                if p == 0:
                    got[name].append(result)
    rows = []
    for name in models:
        pooled = [t for per_pass in times[name] for t in per_pass]
        figures = summarise([(label, g, t) for g, (_, label), t in zip(got[name], images, times[name][0])])
        figures.pop("median_ms")
        rows.append({"model": name, **figures,
                     "median_ms": round(statistics.median(pooled) * 1000, 3),
                     "median_ms_per_pass": [round(statistics.median(t) * 1000, 3) for t in times[name]],
                     "median_cpu_ms": round(statistics.median(cpu[name]) * 1000, 3)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="use an evenly spread sample of this many validation images")
    parser.add_argument("--passes", type=int, default=3, help="timing passes over the 640x480 frames (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--model", help="mask classifier file (default: the shipped one)")
    args = parser.parse_args()
    shared = shared_dir()
    data = shared / "datasets" / "faces-chandrikadeb7"
    peer_dir = shared / "peers" / "aizootech-facemask"
    if not data.is_dir():
        print(f"bench_mask: skipped, {data} is absent (set CHECKPOINT_SHARED_DIR to the shared folder)")
        return 0
    cv2.setNumThreads(1)
    raw = validation_photos(SOURCES[0], args.limit)
    framed = [(in_camera_frame(im), label) for im, label in raw]
    scenes_dir = shared / "datasets" / SOURCES[1]
    scene_faces = validation_photos(SOURCES[1], args.limit) if scenes_dir.is_dir() else []

    # Same rule for both models: the largest face, whatever its size (8 px is the
    # least the configuration allows; the photos are small). The photos go
    # through the pipeline as `mask eval` runs it, the frames as the camera does.
    config = MaskConfig(min_face_px=8, model=args.model or "")
    photos, camera = MaskPipeline(config, still_images=True), MaskPipeline(config)
    peer = AizooPeer(peer_dir).predict if (peer_dir / "face_mask_detection.caffemodel").is_file() else None
    if peer is None:
        print(f"bench_mask: peer model absent at {peer_dir}: comparison skipped", file=sys.stderr)
    rows = []
    runs = [(SOURCES[0], "as is", photos, raw, 1)]
    if scene_faces:
        runs.append((SOURCES[1], "as is", photos, scene_faces, 1))
    runs.append((SOURCES[0], "640x480", camera, framed, args.passes))
    for source, frames, pipeline, images, passes in runs:
        models = {"checkpoint": lambda im, p=pipeline: predicted_class(p.observe(im, 0.0))}
        if peer is not None:
            models["aizootech-ssd"] = peer
        rows += [dict(r, source=source, frames=frames) for r in run(models, images, passes)]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"validation splits of {', '.join(SOURCES)} (scene faces >= 40 px cut as photos), "
          f"OpenCV {cv2.__version__}, 1 thread")
    print(f"{'model':14s} {'source':20s} {'frames':8s} {'images':>6s} {'masked in':>9s} {'bare out':>8s} "
          f"{'incorr out':>10s} {'bal acc':>7s} {'uncertain':>9s} {'no face':>7s} {'median ms':>9s} {'cpu ms':>7s}"
          "  per pass")
    fmt = lambda v, w: f"{v:{w}.4f}" if v is not None else f"{'-':>{w}s}"  # noqa: E731
    for r in rows:
        print(f"{r['model']:14s} {r['source']:20s} {r['frames']:8s} {r['images']:6d} {fmt(r['recall_with_mask'], 9)} "
              f"{fmt(r['recall_without_mask'], 8)} {fmt(r['recall_mask_incorrect'], 10)} "
              f"{fmt(r['balanced_accuracy'], 7)} {fmt(r['uncertain_rate'], 9)} {fmt(r['no_face_rate'], 7)} "
              f"{r['median_ms']:9.3f} {r['median_cpu_ms']:7.3f}  "
              + " ".join(f"{m:.3f}" for m in r["median_ms_per_pass"]))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall times include waiting for the CPU, "
          "cpu ms is this thread's own CPU time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: faces found in camera frames of real scenes, ours and the peer in one run.

    .venv/bin/python bench/bench_scenes.py [--split val] [--reach-side 384] [--reach-score 0.4]
        [--face-check 0.3] [--json]

Every validation photo of ../shared/datasets/scenes-kaggle-cc0 (split by
photo) is scaled to fit a 640x480 frame, as a camera at the door would see
the scene, and goes through our face detection as live frames do (camera
mode: first pass, reach pass, face check) and through the AIZOOTech peer, on
one OpenCV thread, the two taking turns on every frame. A true face counts as
found when a detection overlaps it with IoU >= 0.3 (matched one to one); a
detection that matches no annotated face is a false detection. Prints face
recall per size bucket (shorter side in frame pixels), recall for all faces
of 40 px and more, false detections per frame (all, and those of at least
mask.min_face_px, the only ones that can become the visitor, and of those
the ones overlapping no annotated face by IoU 0.1: the rest are annotated
faces boxed differently or boxed twice), the median time
per frame, and how often the reach pass ran. ``--reach-side 0`` measures the
first pass alone. CHECKPOINT_SHARED_DIR overrides ../shared.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_mask import AizooPeer, shared_dir  # noqa: E402

from checkpoint.config import MaskConfig  # noqa: E402
from drivers.mask.pipeline import MaskPipeline  # noqa: E402
from drivers.mask.scenes import SIZE_BUCKETS, box_iou, bucket_of, list_scenes, match, to_frame  # noqa: E402

MIN_IOU = 0.3
AWAY_IOU = 0.1  # a false detection overlapping no annotated face even this much is on no face the set knows


def frames_of(data: Path, split: str) -> list[tuple]:
    out = []
    for scene in list_scenes(data, split):
        image = scene.read()
        if image is None:
            continue
        frame, s, ox, oy = to_frame(image)
        out.append((frame, [(f.box[0] * s + ox, f.box[1] * s + oy, f.box[2] * s, f.box[3] * s) for f in scene.faces]))
    return out


def score(found_per_frame: list[list[tuple]], frames: list[tuple], min_face_px: float) -> dict:
    hits: dict[str, int] = {}
    totals: dict[str, int] = {}
    false_all = false_large = false_away = 0
    for found, (_, truth) in zip(found_per_frame, frames):
        boxes = [f[:4] for f in found]
        of_truth, _ = match(truth, boxes, MIN_IOU)
        used = {j for j in of_truth if j is not None}
        false_all += len(boxes) - len(used)
        large = [b for j, b in enumerate(boxes) if j not in used and min(b[2], b[3]) >= min_face_px]
        false_large += len(large)
        false_away += sum(1 for b in large if max((box_iou(b, t) for t in truth), default=0.0) < AWAY_IOU)
        for t, j in zip(truth, of_truth):
            short = min(t[2], t[3])
            for key in filter(None, (bucket_of(short), ">=40" if short >= 40 else None)):
                totals[key] = totals.get(key, 0) + 1
                hits[key] = hits.get(key, 0) + (j is not None)
    n = len(frames)
    return {"recall": {k: round(hits[k] / totals[k], 4) for k in totals}, "faces": totals,
            "false_per_frame": round(false_all / n, 3), "false_per_frame_min_face": round(false_large / n, 3),
            "false_per_frame_away": round(false_away / n, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="val", choices=["train", "val"])
    parser.add_argument("--reach-side", type=int, help="override mask.reach_side (0: first pass only)")
    parser.add_argument("--detector-side", type=int, help="override mask.detector_side")
    parser.add_argument("--reach-score", type=float, help="override mask.reach_score")
    parser.add_argument("--face-check", type=float, help="override mask.face_check (1 keeps every detection)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--model", help="mask classifier file (default: the shipped one)")
    args = parser.parse_args()
    data = shared_dir() / "datasets" / "scenes-kaggle-cc0"
    if not data.is_dir():
        print(f"bench_scenes: skipped, {data} is absent (set CHECKPOINT_SHARED_DIR to the shared folder)")
        return 0
    cv2.setNumThreads(1)
    frames = frames_of(data, args.split)
    update = {k: v for k, v in (("reach_side", args.reach_side), ("detector_side", args.detector_side),
                                ("reach_score", args.reach_score), ("face_check", args.face_check))
              if v is not None}
    config = MaskConfig(model=args.model or "").model_copy(update=update)
    pipeline = MaskPipeline(config)
    peer_dir = shared_dir() / "peers" / "aizootech-facemask"
    peer = AizooPeer(peer_dir) if (peer_dir / "face_mask_detection.caffemodel").is_file() else None
    models = {"checkpoint": lambda fr: [(f.x, f.y, f.w, f.h) for f in pipeline.faces(fr)]}
    if peer is not None:
        models["aizootech-ssd"] = peer.detect
    for detect in models.values():  # warm up
        for fr, _ in frames[:3]:
            detect(fr)
    pipeline.detector.reach_passes = 0
    found = {name: [] for name in models}
    times = {name: [] for name in models}
    for fr, _ in frames:
        for name, detect in models.items():
            start = time.perf_counter()
            found[name].append(detect(fr))
            times[name].append(time.perf_counter() - start)
    rows = []
    for name in models:
        row = {"model": name, "frames": len(frames), **score(found[name], frames, config.min_face_px),
               "median_ms": round(statistics.median(times[name]) * 1000, 3)}
        if name == "checkpoint":
            row.update(detector_side=config.detector_side, reach_side=config.reach_side,
                       reach_score=config.reach_score, face_check=config.face_check,
                       reach_pass_share=round(pipeline.detector.reach_passes / len(frames), 3))
        rows.append(row)
    if args.json:
        print(json.dumps(rows))
        return 0
    buckets = [f"{lo}-{hi}" if hi < 10_000 else f">={lo}" for lo, hi in SIZE_BUCKETS] + [">=40"]
    print(f"{args.split} scenes of {data}: {len(frames)} frames of 640x480, OpenCV {cv2.__version__}, 1 thread, "
          f"match IoU >= {MIN_IOU}")
    print(f"{'model':14s} " + " ".join(f"{b:>8s}" for b in buckets)
          + f"  false/frame  (>= min face)  (of those IoU < {AWAY_IOU})  median ms")
    for r in rows:
        print(f"{r['model']:14s} " + " ".join(f"{r['recall'].get(b, 0):8.3f}" for b in buckets)
              + f"  {r['false_per_frame']:11.3f}  {r['false_per_frame_min_face']:13.3f}"
              + f"  {r['false_per_frame_away']:21.3f}  {r['median_ms']:9.3f}")
    print("faces per bucket: " + json.dumps(rows[0]["faces"]))
    if "reach_pass_share" in rows[0]:
        print(f"detector side {rows[0]['detector_side']}, reach side {rows[0]['reach_side']} "
              f"(score {rows[0]['reach_score']}), face check {rows[0]['face_check']}, "
              f"reach pass on {rows[0]['reach_pass_share']:.0%} of frames")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

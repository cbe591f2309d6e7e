"""`checkpoint mask detect|eval|train`: the face-mask model from the command line."""

from __future__ import annotations

import json
import sys

NAME = "mask"
HELP = "detect faces and masks in an image, evaluate or train the mask classifier"
DESCRIPTION = """Face detection (BlazeFace) and mask classification.

  checkpoint mask detect IMAGE|DIR [IMAGE|DIR ...] [--still]
      one JSON line per image: every face with its box (x, y, w, h in the
      image's pixels), score, head pose, class probabilities and verdict, and
      which face is the visitor; camera mode (as live frames) unless --still
  checkpoint mask eval DIR [--split val] [--json]
      DIR has with_mask/, without_mask/ and/or mask_incorrect/ (or is a boxed
      scene set with images/ and annotations/, whose faces of --scene-min-face-px
      and more are cut out as photos of one person); runs the full pipeline and
      the gate's verdict per photo and prints recall per class (masked let in,
      bare and incorrect not let in), balanced accuracy, incorrect_not_let_in,
      the confusion matrix, uncertain and no-face rates and median ms
  checkpoint mask train DIR [DIR ...] OUT_DIR [--epochs N] [--seed S] [--input-size PX]
      trains the classifier (needs torch: pip install .[train]) on face-photo
      folders and boxed scene sets, and writes OUT_DIR/mask_classifier.onnx and .json"""


def configure(parser) -> None:
    from checkpoint.cli import common_options

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [common_options(nested=True)]
    detect = sub.add_parser("detect", help="faces and mask classes in images, one JSON line each", parents=common)
    detect.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    detect.add_argument("--still", action="store_true",
                        help="still photos: retry with a border and in tiles when no face is found "
                             "(default: camera mode, as live frames are processed)")
    detect.add_argument("--json", action="store_true", help="accepted for compatibility: output is always JSON")
    ev = sub.add_parser("eval", help="accuracy of the full pipeline on a labelled folder", parents=common)
    ev.add_argument("dir")
    ev.add_argument("--split", choices=["train", "val"], help="only this part of the deterministic split")
    ev.add_argument("--limit", type=int, help="evaluate an evenly spread sample of this many images")
    ev.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    ev.add_argument("--min-face-px", type=int, default=8,
                    help="smallest face counted (default 8, the least the configuration allows: the photos are "
                         "small, mask.min_face_px is meant for live 640x480 frames)")
    ev.add_argument("--json", action="store_true", help="print JSON only (default also prints JSON)")
    ev.add_argument("--camera", action="store_true", help="process the photos as camera frames (no retries)")
    ev.add_argument("--mask-threshold", type=float, help="p(mask) needed to let in (default: the gate's)")
    ev.add_argument("--refuse-threshold", type=float,
                    help="p(no mask) + p(mask incorrect) needed to refuse (default: the gate's)")
    ev.add_argument("--scene-min-face-px", type=int, default=40,
                    help="for boxed scene sets: the smallest face (shorter side in the photo) cut out (default 40)")
    tr = sub.add_parser("train", help="train the mask classifier (needs torch)", parents=common)
    tr.add_argument("dirs", nargs="+", metavar="DIR",
                    help="one or more data folders (face photos with with_mask/ and without_mask/, or boxed scenes "
                         "with images/ and annotations/), then the output folder")
    tr.add_argument("--epochs", type=int, default=70)
    tr.add_argument("--width", type=int, default=32, help="channels of the first layer (default 32)")
    tr.add_argument("--no-synthetic", action="store_true",
                    help="train without the synthetic incorrect masks and hands at the mouth")
    tr.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    tr.add_argument("--no-pose-augment", action="store_true",
                    help="train without strong tilts, turned heads, coloured light and dim views (the first recipe)")
    tr.add_argument("--cache", help="keep the detected faces in this .npz file and reuse them on the next run")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--input-size", type=int, default=64, help="side of the classifier's input crop in px (default 64)")


def _mask_config(args):
    from checkpoint.cli import settings_from_args
    return settings_from_args(args).mask


def _image_paths(args) -> list[str]:
    from pathlib import Path

    from drivers.mask.dataset import IMAGE_SUFFIXES

    paths = []
    for item in args.images:
        p = Path(item)
        if p.is_dir():
            paths += [str(f) for f in sorted(p.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        else:
            paths.append(item)
    return paths


def _detect(args) -> int:
    import cv2

    from checkpoint.mask_verdict import mask_verdict
    from drivers.mask.pipeline import MaskPipeline
    from drivers.mask.pose import head_pose

    config = _mask_config(args)
    pipeline = MaskPipeline(config, still_images=args.still)
    status = 0
    for path in _image_paths(args):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            print(json.dumps({"image": path, "error": "cannot read image"}), flush=True)
            status = 2
            continue
        faces = pipeline.faces(image)
        visitor = pipeline.visitor(image, faces)
        rows = []
        for f in faces:
            probs = pipeline.classify(image, f)
            yaw, roll = head_pose(f.keypoints)
            rows.append({"x": round(f.x, 1), "y": round(f.y, 1), "w": round(f.w, 1), "h": round(f.h, 1),
                         "score": round(f.score, 4), "probs": {k: round(v, 4) for k, v in probs.items()},
                         "class": max(probs, key=probs.__getitem__), "verdict": mask_verdict(probs),
                         "yaw_deg": None if yaw is None else round(yaw, 1),
                         "roll_deg": None if roll is None else round(roll, 1),
                         "visitor": f is visitor, "too_small": min(f.w, f.h) < config.min_face_px})
        h, w = image.shape[:2]
        print(json.dumps({"image": path, "frame_size": [w, h], "mode": "still" if args.still else "camera",
                          "faces": rows}), flush=True)
    return status


def _eval(args) -> int:
    import cv2

    from drivers.mask.evaluate import evaluate

    cv2.setNumThreads(args.threads)

    def progress(i: int, n: int) -> None:
        if i % 200 == 0 or i == n:
            print(f"{i}/{n} images", file=sys.stderr)

    try:
        config = _mask_config(args).model_copy(update={"min_face_px": args.min_face_px})
        figures = evaluate(args.dir, config, split=args.split, limit=args.limit, progress=progress,
                           mask_threshold=args.mask_threshold, refuse_threshold=args.refuse_threshold,
                           still=not args.camera, scene_min_face_px=args.scene_min_face_px)
    except FileNotFoundError as exc:
        print(f"checkpoint: {exc}", file=sys.stderr)
        return 2
    figures["min_face_px"] = config.min_face_px
    print(json.dumps(figures))
    return 0


def _train(args) -> int:
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        print("checkpoint: training needs torch: pip install 'checkpoint-gate[train]'", file=sys.stderr)
        return 2
    from drivers.mask.train import train

    def log(line: str) -> None:
        print(line, flush=True)

    if len(args.dirs) < 2:
        print("checkpoint: mask train needs at least one data folder and the output folder", file=sys.stderr)
        return 2
    *data_dirs, out_dir = args.dirs
    from drivers.mask.pipeline import STILL_FACE_SCORE

    still_score = min(_mask_config(args).face_score, STILL_FACE_SCORE)  # training photos are still photos
    meta = train(data_dirs, out_dir, epochs=args.epochs, seed=args.seed, face_score=still_score,
                 input_size=args.input_size, width=args.width, synthetic=not args.no_synthetic,
                 pose=not args.no_pose_augment, cache=args.cache, threads=args.threads, log=log)
    print(json.dumps({"validation": meta["validation"]}))
    return 0


def run(args) -> int:
    return {"detect": _detect, "eval": _eval, "train": _train}[args.action](args)

"""`checkpoint mask detect|eval|train`: the face-mask model from the command line."""

from __future__ import annotations

import json
import sys

NAME = "mask"
HELP = "detect faces and masks in an image, evaluate or train the mask classifier"
DESCRIPTION = """Face detection (BlazeFace) and mask classification.

  checkpoint mask detect IMAGE [--json]
      faces, boxes, scores, classes and probabilities; the visitor is marked
  checkpoint mask eval DIR [--split val] [--json]
      DIR has with_mask/ and without_mask/; runs the full pipeline per image and
      prints images, accuracy, recall per class, no-face rate and median ms
  checkpoint mask train DATA_DIR OUT_DIR [--epochs N] [--seed S] [--input-size PX]
      trains the classifier (needs torch: pip install .[train]) and writes
      OUT_DIR/mask_classifier.onnx and .json"""


def configure(parser) -> None:
    from checkpoint.cli import common_options

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [common_options(nested=True)]
    detect = sub.add_parser("detect", help="faces and mask classes in one image", parents=common)
    detect.add_argument("image")
    detect.add_argument("--json", action="store_true", help="print JSON")
    ev = sub.add_parser("eval", help="accuracy of the full pipeline on a labelled folder", parents=common)
    ev.add_argument("dir")
    ev.add_argument("--split", choices=["train", "val"], help="only this part of the deterministic split")
    ev.add_argument("--limit", type=int, help="evaluate an evenly spread sample of this many images")
    ev.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    ev.add_argument("--min-face-px", type=int, default=8,
                    help="smallest face counted (default 8, the least the configuration allows: the photos are "
                         "small, mask.min_face_px is meant for live 640x480 frames)")
    ev.add_argument("--json", action="store_true", help="print JSON only (default also prints JSON)")
    tr = sub.add_parser("train", help="train the mask classifier (needs torch)", parents=common)
    tr.add_argument("data_dir")
    tr.add_argument("out_dir")
    tr.add_argument("--epochs", type=int, default=80)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--input-size", type=int, default=64, help="side of the classifier's input crop in px (default 64)")


def _mask_config(args):
    from checkpoint.cli import settings_from_args
    return settings_from_args(args).mask


def _detect(args) -> int:
    import cv2

    from drivers.mask.pipeline import MaskPipeline

    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        print(f"checkpoint: cannot read image {args.image}", file=sys.stderr)
        return 2
    pipeline = MaskPipeline(_mask_config(args), still_images=True)
    faces = pipeline.faces(image)
    visitor = pipeline.visitor(image, faces)
    rows = []
    for f in faces:
        probs = pipeline.classify(image, f)
        rows.append({"box": [round(v, 1) for v in (f.x, f.y, f.w, f.h)], "score": round(f.score, 4),
                     "class": max(probs, key=probs.get), "probs": {k: round(v, 4) for k, v in probs.items()},
                     "visitor": f is visitor})
    h, w = image.shape[:2]
    if args.json:
        print(json.dumps({"image": args.image, "frame_size": [w, h], "faces": rows}))
        return 0
    print(f"{args.image}: {w}x{h}, {len(rows)} face(s)")
    for r in rows:
        mark = "*" if r["visitor"] else " "
        probs = " ".join(f"{k}={v:.3f}" for k, v in r["probs"].items())
        print(f" {mark} box={r['box']} score={r['score']:.3f} {r['class']:8s} {probs}")
    return 0


def _eval(args) -> int:
    import cv2

    from drivers.mask.evaluate import evaluate

    cv2.setNumThreads(args.threads)

    def progress(i: int, n: int) -> None:
        if i % 200 == 0 or i == n:
            print(f"{i}/{n} images", file=sys.stderr)

    try:
        config = _mask_config(args).model_copy(update={"min_face_px": args.min_face_px})
        figures = evaluate(args.dir, config, split=args.split, limit=args.limit, progress=progress)
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

    meta = train(args.data_dir, args.out_dir, epochs=args.epochs, seed=args.seed,
                 face_score=_mask_config(args).face_score, input_size=args.input_size, log=log)
    print(json.dumps({"validation": meta["validation"]}))
    return 0


def run(args) -> int:
    return {"detect": _detect, "eval": _eval, "train": _train}[args.action](args)

"""Train the mask classifier (needs torch from the ``train`` extra).

    checkpoint mask train DIR [DIR ...] OUT_DIR

1. ``training_data.prepare``: every face of the folders (face photos, boxed
   scenes) goes through the same BlazeFace detector and visitor choice as
   ``mask eval``, cropped by ``crops.crop_face``; the scenes also give
   not-a-face negatives. The deterministic split (``dataset.split_of``, by
   file name or by photo) keeps 20 % for validation.
2. A small depthwise-separable CNN with four outputs (mask, no mask, mask
   incorrect, not a face) is trained on augmented views, some of the bare
   faces turned into synthetic wrong wear or hands at the mouth; seeded.
3. The model is exported to ONNX, checked against torch through ``cv2.dnn``,
   and written with a JSON file naming classes, input size and figures.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK
from drivers.mask.augment import CONTEXT, augment
from drivers.mask.synthetic import draw_correct_mask, draw_hand, draw_incorrect_mask
from drivers.mask.training_data import CLASSES, INPUT_SIZE, NOT_FACE, load_or_prepare

MODEL_NAME = "mask_classifier"
EMA_DECAY = 0.995


def build_model(width: int = 24):
    import torch
    from torch import nn

    def sep(cin: int, cout: int, stride: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class MaskNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.features = nn.Sequential(
                nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),  # 32 px
                sep(w, 2 * w, 2), sep(2 * w, 4 * w, 1),  # 16 px
                sep(4 * w, 4 * w, 2), sep(4 * w, 8 * w, 1),  # 8 px
                sep(8 * w, 8 * w, 2),  # 4 px
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * w, len(CLASSES)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: raw BGR 0..255, NCHW
            x = self.features(x * (1 / 127.5) - 1.0)
            return self.head(x.mean(dim=(2, 3), keepdim=True))

    return MaskNet()


def update_ema(ema, model, decay: float) -> None:
    import torch
    with torch.no_grad():
        for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(m.detach(), alpha=1 - decay)
            else:
                e.copy_(m)


def to_tensor(batch: np.ndarray):
    import torch
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32))


def predict(model, crops: np.ndarray) -> np.ndarray:
    import torch
    model.eval()
    with torch.no_grad():
        return np.concatenate([torch.softmax(model(to_tensor(crops[i:i + 256])), 1).numpy()
                               for i in range(0, len(crops), 256)])


FACE_CHECK = 0.5  # p(not a face) at which a detection is dropped (drivers/mask/pipeline.py)


def figures(probs: np.ndarray, labels: np.ndarray, found: np.ndarray,
            mask_threshold: float = DEFAULT_MASK_THRESHOLD) -> dict:
    """Per-class recall (arg-max over the mask classes), balanced accuracy, the
    gate's view at ``mask_threshold`` (masked faces let in, bare and incorrect
    ones not let in; p(mask) among the mask classes, as the pipeline gives it)
    and the face check (share of detections dropped as no face). Images
    without a face count as wrong (and as not let in)."""
    k_face = CLASSES.index(NOT_FACE)
    p_not_face = probs[:, k_face]
    face = np.delete(probs, k_face, axis=1)
    face = face / np.maximum(face.sum(1, keepdims=True), 1e-9)
    kept = found & (p_not_face < FACE_CHECK)
    right = (face.argmax(1) == labels) & kept
    let_in = (face[:, 0] >= mask_threshold) & kept
    out: dict = {"images": int(len(labels)), "no_face_rate": round(float(1 - found.mean()), 4) if len(found) else 0.0,
                 "dropped_as_no_face": round(float((p_not_face >= FACE_CHECK).mean()), 4) if len(labels) else 0.0}
    recalls = []
    for k, name in enumerate(CLASSES[:k_face]):
        sel = labels == k
        if sel.any():
            out[f"recall_{name}"] = round(float(right[sel].mean()), 4)
            recalls.append(float(right[sel].mean()))
            out[f"let_in_{name}"] = round(float(let_in[sel].mean()), 4)
    out["balanced_accuracy"] = round(float(np.mean(recalls)), 4) if recalls else None
    return out


def centre_crop(ctx: np.ndarray, size: int) -> np.ndarray:
    """The inference crop inside a context crop (its central half)."""
    q = CONTEXT // 4
    return cv2.resize(ctx[q:CONTEXT - q, q:CONTEXT - q], (size, size), interpolation=cv2.INTER_AREA)


P_INCORRECT = 0.2  # share of bare training faces given a synthetic mask worn wrong
P_HAND = 0.12  # share of bare training faces given a hand or object at the mouth (still no mask)
P_CORRECT = 0.12  # share of bare training faces given a drawn mask worn right (so drawing is no class cue)


def training_view(ctx: np.ndarray, kps: np.ndarray, label: int, size: int, rng: np.random.Generator,
                  synthetic: bool = True, pose: bool = True) -> tuple[np.ndarray, int]:
    """One augmented view and its label; some bare faces become synthetic
    incorrect wear or hard negatives first."""
    if synthetic and label == CLASSES.index(NO_MASK):
        r = rng.random()
        if r < P_INCORRECT:
            ctx = ctx.copy()
            draw_incorrect_mask(ctx, kps, rng)
            label = CLASSES.index(MASK_INCORRECT)
        elif r < P_INCORRECT + P_HAND:
            ctx = ctx.copy()
            draw_hand(ctx, kps, rng)
        elif r < P_INCORRECT + P_HAND + P_CORRECT:
            ctx = ctx.copy()
            draw_correct_mask(ctx, kps, rng)
            label = CLASSES.index(MASK)
    return augment(ctx, size, rng, pose), label


def synthetic_validation(data: dict, va: np.ndarray, size: int, seed: int = 12345) -> dict:
    """Seeded synthetic cases made from the validation bare faces: masks worn
    below the nose or under the chin (label mask_incorrect) and hands or
    objects at the mouth (label no_mask), as inference crops."""
    rng = np.random.default_rng(seed)
    out: dict = {"incorrect": [], "hand": []}
    for j in np.flatnonzero(va & (data["labels"] == CLASSES.index(NO_MASK)) & data["found"]):
        for kind, draw in (("incorrect", draw_incorrect_mask), ("hand", draw_hand)):
            ctx = data["ctx"][j].copy()
            draw(ctx, data["kps"][j], rng)
            out[kind].append(centre_crop(ctx, size))
    return {k: np.stack(v) for k, v in out.items() if v}


def export(model, out_dir: Path, check_crops: np.ndarray, meta: dict) -> Path:
    size = int(meta["input_size"])
    import torch
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{MODEL_NAME}.onnx"
    model.eval()
    dummy = torch.zeros(1, 3, size, size)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # exporter internals
        torch.onnx.export(model, (dummy,), str(path), input_names=["input"], output_names=["logits"],
                          opset_version=18, dynamo=True, external_data=False, verbose=False)
    (out_dir / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    net = cv2.dnn.readNetFromONNX(str(path))
    with torch.no_grad():
        ref = model(to_tensor(check_crops)).numpy()
    got = []
    for crop in check_crops:
        net.setInput(cv2.dnn.blobFromImage(crop, 1.0, (size, size)))
        got.append(net.forward().reshape(-1))
    diff = float(np.abs(np.array(got) - ref).max())
    if diff > 1e-3:
        raise RuntimeError(f"cv2.dnn and torch disagree on the exported model (max |diff| {diff:.2e})")
    meta["onnx_check_max_abs_diff"] = diff
    (out_dir / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def validation_report(model, data: dict, va: np.ndarray, synthetic: dict) -> dict:
    report = {}
    for source in sorted(set(data["source"][va])):
        sel = va & (data["source"] == source)
        report[source] = figures(predict(model, data["crops"][sel]), data["labels"][sel], data["found"][sel])
    for kind, crops in synthetic.items():
        label = CLASSES.index(MASK_INCORRECT if kind == "incorrect" else NO_MASK)
        report[f"synthetic_{kind}"] = figures(predict(model, crops), np.full(len(crops), label),
                                              np.ones(len(crops), bool))
    return report


CLASS_WEIGHTS = (1.0, 1.0, 1.0, 0.5)  # the safety lean is the operating point's (checkpoint/mask_verdict.py);
# the not-a-face negatives outnumber the faces, so they count half


def train(data_dirs: list[str | Path], out_dir: str | Path, epochs: int = 70, seed: int = 0, batch: int = 64,
          face_score: float = 0.3, input_size: int = INPUT_SIZE, width: int = 32, synthetic: bool = True,
          pose: bool = True, cache: Optional[Path] = None, threads: int = 2,
          log: Callable[[str], None] = print) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    data = load_or_prepare([Path(d) for d in data_dirs], face_score, log, input_size, cache)
    tr, va = ~data["val"], data["val"]
    ctx, kps, y = data["ctx"][tr], data["kps"][tr], data["labels"][tr]
    synthetic_val = synthetic_validation(data, va, input_size)
    log(f"train {len(y)} faces, validation {int(va.sum())} faces ({time.monotonic() - start:.0f} s)")

    model = build_model(width)
    ema = copy.deepcopy(model)  # exponential moving average of the weights: the exported model
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.02)
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(CLASS_WEIGHTS), label_smoothing=0.05)
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(y))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            views = [training_view(ctx[j], kps[j], int(y[j]), input_size, rng, synthetic, pose) for j in idx]
            xb = to_tensor(np.stack([v for v, _ in views]))
            yb = torch.tensor([lb for _, lb in views]).long()
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            update_ema(ema, model, EMA_DECAY)
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(idx)
        if epoch % 5 == 0 or epoch == epochs:
            report = validation_report(ema, data, va, synthetic_val)
            log(f"epoch {epoch:3d}/{epochs}  loss {total / seen:.4f}  train acc {correct / seen:.4f}  "
                f"({time.monotonic() - start:.0f} s)  " + json.dumps(report))
        else:
            log(f"epoch {epoch:3d}/{epochs}  loss {total / seen:.4f}  train acc {correct / seen:.4f}  "
                f"({time.monotonic() - start:.0f} s)")

    model = ema
    report = validation_report(model, data, va, synthetic_val)
    meta = {
        "classes": list(CLASSES), "input_size": input_size, "input": "BGR 0..255, NCHW (scaling inside the model)",
        "seed": seed, "epochs": epochs, "width": width, "synthetic": synthetic, "pose_augment": pose,
        "train_faces": int(len(y)),
        "sources": [Path(d).name for d in data_dirs], "validation": report,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    path = export(model, Path(out_dir), data["crops"][va][:64], meta)
    log(f"wrote {path} ({path.stat().st_size} bytes) in {time.monotonic() - start:.0f} s")
    log("validation (crops from training-time detection): " + json.dumps(report))
    return meta

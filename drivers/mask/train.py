"""Train the mask classifier (needs torch from the ``train`` extra).

    checkpoint mask train DATA_DIR OUT_DIR

1. Every image of DATA_DIR/{with_mask,without_mask} goes through the same
   BlazeFace detector and visitor choice as at inference; the face is cropped
   with ``crops.crop_face`` (the whole image when no face is found).
2. The deterministic split (``dataset.split_of``) keeps 20 % for validation.
3. A small depthwise-separable CNN is trained on augmented crops, seeded.
4. The model is exported to ONNX, checked against torch through ``cv2.dnn``,
   and written with a JSON file naming classes, input size and figures.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from checkpoint.messages import MASK, NO_MASK
from drivers.mask.augment import CONTEXT, CONTEXT_EXTRA, augment
from drivers.mask.crops import crop_face
from drivers.mask.dataset import list_images, split_of
from drivers.mask.face_detector import FaceDetector
from drivers.mask.pipeline import choose_visitor

CLASSES = (MASK, NO_MASK)
INPUT_SIZE = 64  # default side of the classifier's input crop
MODEL_NAME = "mask_classifier"
EMA_DECAY = 0.995


def prepare(data_dir: Path, face_score: float, log: Callable[[str], None], input_size: int = INPUT_SIZE) -> dict:
    """Detect and crop every image once: context crops for training views,
    inference crops for validation."""
    detector = FaceDetector(face_score, retry_max_side=None)  # photos, as in `mask eval`
    items = list_images(data_dir)
    ctx, crops, labels, is_val, found = [], [], [], [], []
    for i, (path, label) in enumerate(items):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log(f"skipping unreadable {path}")
            continue
        h, w = image.shape[:2]
        face = choose_visitor(detector.detect(image), (w, h))
        box = (face.x, face.y, face.w, face.h) if face else None
        ctx.append(crop_face(image, box, CONTEXT, CONTEXT_EXTRA))
        crops.append(crop_face(image, box, input_size))
        labels.append(CLASSES.index(label))
        is_val.append(split_of(path.name) == "val")
        found.append(face is not None)
        if (i + 1) % 500 == 0 or i + 1 == len(items):
            log(f"faces: {i + 1}/{len(items)} images, no face in {len(found) - sum(found)}")
    return {"ctx": np.stack(ctx), "crops": np.stack(crops), "labels": np.array(labels),
            "val": np.array(is_val), "found": np.array(found)}


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


def figures(probs: np.ndarray, labels: np.ndarray, found: np.ndarray) -> dict:
    """Accuracy and per-class recall; images without a face count as wrong."""
    right = (probs.argmax(1) == labels) & found
    out = {"images": int(len(labels)), "accuracy": float(right.mean()), "no_face_rate": float(1 - found.mean())}
    for k, name in enumerate(CLASSES):
        out[f"recall_{name}"] = float(right[labels == k].mean())
    return out


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


def train(data_dir: str | Path, out_dir: str | Path, epochs: int = 80, seed: int = 0, batch: int = 64,
          face_score: float = 0.3, input_size: int = INPUT_SIZE, log: Callable[[str], None] = print) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    data = prepare(Path(data_dir), face_score, log, input_size)
    tr, va = ~data["val"], data["val"]
    ctx, y = data["ctx"][tr], data["labels"][tr]
    log(f"train {len(y)} images, validation {int(va.sum())} images ({time.monotonic() - start:.0f} s)")

    model = build_model()
    ema = copy.deepcopy(model)  # exponential moving average of the weights: the exported model
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.02)
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(len(y))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb = to_tensor(np.stack([augment(ctx[j], input_size, rng) for j in idx]))
            yb = torch.from_numpy(y[idx]).long()
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
        val = figures(predict(ema, data["crops"][va]), data["labels"][va], data["found"][va])
        log(f"epoch {epoch:3d}/{epochs}  loss {total / seen:.4f}  train acc {correct / seen:.4f}  "
            f"val acc {val['accuracy']:.4f}  ({time.monotonic() - start:.0f} s)")

    model = ema
    val = figures(predict(model, data["crops"][va]), data["labels"][va], data["found"][va])
    meta = {
        "classes": list(CLASSES), "input_size": input_size, "input": "BGR 0..255, NCHW (scaling inside the model)",
        "seed": seed, "epochs": epochs, "train_images": int(len(y)), "validation": val,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    path = export(model, Path(out_dir), data["crops"][va][:64], meta)
    log(f"wrote {path} ({path.stat().st_size} bytes) in {time.monotonic() - start:.0f} s")
    log("validation (crops from training-time detection): " + json.dumps(val))
    return meta

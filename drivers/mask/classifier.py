"""The mask classifier at inference: an ONNX file run by ``cv2.dnn``.

The file takes a 1x3xSxS BGR tensor of raw pixel values (0..255; scaling is
inside the model) and returns one logit per class. A JSON file beside it
names the classes and the input size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

DEFAULT_MODEL = Path(__file__).parent / "models" / "mask_classifier.onnx"


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64).reshape(-1)
    e = np.exp(z - z.max())
    return e / e.sum()


def read_meta(model_path: Path) -> dict:
    meta_path = model_path.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing: it names the classes of {model_path.name}")
    return json.loads(meta_path.read_text(encoding="utf-8"))


class MaskClassifier:
    def __init__(self, model_path: Optional[str | Path] = None) -> None:
        path = Path(model_path) if model_path else DEFAULT_MODEL
        meta = read_meta(path)
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        self.input_size: int = int(meta["input_size"])
        self._net = cv2.dnn.readNetFromONNX(str(path))

    def logits(self, crop_bgr: np.ndarray) -> np.ndarray:
        blob = cv2.dnn.blobFromImage(crop_bgr, 1.0, (self.input_size, self.input_size))
        self._net.setInput(blob)
        return self._net.forward().reshape(-1)

    def predict(self, crop_bgr: np.ndarray) -> dict[str, float]:
        """Class -> probability for one face crop of ``input_size`` px."""
        probs = softmax(self.logits(crop_bgr))
        return {c: float(p) for c, p in zip(self.classes, probs)}

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


NOT_FACE = "not_face"  # an optional output: the crop shows no face (the face check)


class MaskClassifier:
    """``classes`` are the mask classes the file knows (mask, no_mask and,
    for three-class files, mask_incorrect); a file may add ``not_face``, the
    face check, which ``predict`` keeps apart."""

    def __init__(self, model_path: Optional[str | Path] = None) -> None:
        path = Path(model_path) if model_path else DEFAULT_MODEL
        meta = read_meta(path)
        self.outputs: tuple[str, ...] = tuple(meta["classes"])
        self.classes: tuple[str, ...] = tuple(c for c in self.outputs if c != NOT_FACE)
        self.has_face_check = NOT_FACE in self.outputs
        self.input_size: int = int(meta["input_size"])
        self._net = cv2.dnn.readNetFromONNX(str(path))

    def logits(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """Logits, one row per crop (one forward pass for all)."""
        size = (self.input_size, self.input_size)
        if len(crops_bgr) == 1:
            blob = cv2.dnn.blobFromImage(crops_bgr[0], 1.0, size)
        else:
            blob = cv2.dnn.blobFromImages(crops_bgr, 1.0, size)
        self._net.setInput(blob)
        return self._net.forward().reshape(len(crops_bgr), -1)

    def predict_many(self, crops_bgr: list[np.ndarray]) -> list[tuple[dict[str, float], float]]:
        """Per crop: (mask class -> probability, summing to 1; p(not a face),
        0 for files without the face check)."""
        out = []
        for row in self.logits(crops_bgr) if crops_bgr else ():
            probs = dict(zip(self.outputs, softmax(row).tolist()))
            p_not_face = probs.pop(NOT_FACE, 0.0)
            total = sum(probs.values()) or 1.0
            out.append(({c: p / total for c, p in probs.items()}, float(p_not_face)))
        return out

    def predict(self, crop_bgr: np.ndarray) -> dict[str, float]:
        """Mask class -> probability for one face crop of ``input_size`` px."""
        return self.predict_many([crop_bgr])[0][0]

"""The labelled face folders and the deterministic train/validation split."""

from __future__ import annotations

import hashlib
from pathlib import Path

from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK

FOLDERS = {"with_mask": MASK, "without_mask": NO_MASK, "mask_incorrect": MASK_INCORRECT}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VAL_PERCENT = 20


def split_of(name: str) -> str:
    """'val' for about VAL_PERCENT % of file names, 'train' for the rest (SHA-1 of the name)."""
    bucket = int(hashlib.sha1(name.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "val" if bucket < VAL_PERCENT else "train"


def list_images(data_dir: str | Path, split: str | None = None) -> list[tuple[Path, str]]:
    """(path, class) for every image under DATA_DIR/with_mask, DATA_DIR/without_mask
    and DATA_DIR/mask_incorrect (each optional, at least one there), sorted by
    path; ``split`` 'train' or 'val' keeps only that part."""
    root = Path(data_dir)
    if not any((root / folder).is_dir() for folder in FOLDERS):
        raise FileNotFoundError(f"{root} has none of {', '.join(f + '/' for f in FOLDERS)}")
    items = []
    for folder, label in FOLDERS.items():
        sub = root / folder
        if not sub.is_dir():
            continue
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and (split is None or split_of(path.name) == split):
                items.append((path, label))
    return items

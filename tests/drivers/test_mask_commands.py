"""`checkpoint mask detect` on a folder and `checkpoint mask eval` on a three-class folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from checkpoint.config import MaskConfig
from checkpoint.mask_verdict import mask_verdict
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, UNCERTAIN
from drivers.mask.evaluate import evaluate, summarise
from drivers.mask.pipeline import MaskPipeline
from drivers.mask.synthetic import draw_incorrect_mask

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
PHOTOS = SHARED / "datasets" / "faces-chandrikadeb7"
needs_shared = pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"../shared is absent ({PHOTOS}): no face images")


def checkpoint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checkpoint", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def test_summary_of_three_classes_is_the_gates_view():
    rows = [(MASK, MASK, 0.001), (MASK, UNCERTAIN, 0.001), (MASK, None, 0.001), (MASK, NO_MASK, 0.001),
            (NO_MASK, NO_MASK, 0.002), (NO_MASK, MASK_INCORRECT, 0.002), (NO_MASK, UNCERTAIN, 0.002),
            (NO_MASK, MASK, 0.002), (MASK_INCORRECT, MASK_INCORRECT, 0.003), (MASK_INCORRECT, MASK, 0.003)]
    fig = summarise(rows)
    assert fig["images"] == 10
    assert fig["recall_with_mask"] == 0.25  # only a masked face let in counts
    assert fig["recall_without_mask"] == 0.75  # refused or asked again: not let in
    assert fig["recall_mask_incorrect"] == fig["incorrect_not_let_in"] == 0.5
    assert fig["balanced_accuracy"] == 0.5 and fig["balanced_accuracy_3"] == 0.5
    assert fig["no_face_rate"] == 0.1 and fig["uncertain_rate"] == 0.2 and fig["median_ms"] == 2.0
    assert fig["confusion"][MASK] == {MASK: 1, NO_MASK: 1, MASK_INCORRECT: 0, UNCERTAIN: 1, "no_face": 1}
    assert fig["confusion"][MASK_INCORRECT][MASK] == 1
    assert summarise([(MASK, MASK, 0.001)])["recall_without_mask"] is None


def test_verdict_leans_to_safety():
    assert mask_verdict({MASK: 0.95, NO_MASK: 0.03, MASK_INCORRECT: 0.02}) == MASK
    assert mask_verdict({MASK: 0.2, NO_MASK: 0.7, MASK_INCORRECT: 0.1}) == NO_MASK
    assert mask_verdict({MASK: 0.2, NO_MASK: 0.3, MASK_INCORRECT: 0.5}) == MASK_INCORRECT
    assert mask_verdict({MASK: 0.55, NO_MASK: 0.25, MASK_INCORRECT: 0.2}, mask_threshold=0.6) == UNCERTAIN
    assert mask_verdict({MASK: 0.55, NO_MASK: 0.45}, mask_threshold=0.6, refuse_threshold=0.4) == NO_MASK
    assert mask_verdict({}) == UNCERTAIN


def three_class_folder(root: Path, n: int = 4) -> list[tuple[Path, str]]:
    """n photos per class: masked and bare from the shared set, incorrect wear drawn on other bare faces."""
    detector = MaskPipeline(MaskConfig(min_face_px=8), still_images=True)
    made = []
    bare = sorted((PHOTOS / "without_mask").iterdir())
    for folder, sources in (("with_mask", sorted((PHOTOS / "with_mask").iterdir())[:n]), ("without_mask", bare[:n])):
        (root / folder).mkdir(parents=True)
        for src in sources:
            dst = root / folder / src.name
            dst.write_bytes(src.read_bytes())
            made.append((dst, folder))
    (root / "mask_incorrect").mkdir()
    rng = np.random.default_rng(3)
    for src in bare[n:]:
        image = cv2.imread(str(src))
        face = detector.visitor(image, detector.faces(image))
        if face is None:
            continue
        draw_incorrect_mask(image, np.array(face.keypoints[:4], np.float32), rng, "below_nose")
        dst = root / "mask_incorrect" / (src.stem + ".png")
        cv2.imwrite(str(dst), image)
        made.append((dst, "mask_incorrect"))
        if sum(1 for _, f in made if f == "mask_incorrect") == n:
            break
    return made


@needs_shared
@pytest.mark.shared
def test_eval_reads_three_class_folders_and_counts_what_the_gate_decides(tmp_path):
    made = three_class_folder(tmp_path)
    result = checkpoint("mask", "eval", str(tmp_path), "--json", "--log-level", "warning")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["images"] == len(made) == 12
    # the same verdicts computed photo by photo
    pipeline = MaskPipeline(MaskConfig(min_face_px=8), still_images=True)
    expected: dict[str, dict[str, int]] = {}
    label_of = {"with_mask": MASK, "without_mask": NO_MASK, "mask_incorrect": MASK_INCORRECT}
    for path, folder in made:
        obs = pipeline.observe(cv2.imread(str(path)), 0.0)
        verdict = mask_verdict(obs.probs) if obs.has_face else "no_face"
        row = expected.setdefault(label_of[folder], {})
        row[verdict] = row.get(verdict, 0) + 1
    assert {c: {v: k for v, k in row.items() if k} for c, row in figures["confusion"].items()} == expected
    incorrect = figures["confusion"][MASK_INCORRECT]
    assert figures["incorrect_not_let_in"] == round((4 - incorrect[MASK] - incorrect["no_face"]) / 4, 4)
    # the same figures through the library
    library = evaluate(tmp_path, MaskConfig(min_face_px=8))
    assert library["confusion"] == figures["confusion"]


def test_eval_of_a_folder_without_class_folders_is_a_clear_error(tmp_path):
    result = checkpoint("mask", "eval", str(tmp_path))
    assert result.returncode == 2 and "with_mask/" in result.stderr


@needs_shared
@pytest.mark.shared
def test_detect_on_a_folder_prints_one_json_line_per_image(tmp_path):
    camera = MaskPipeline(MaskConfig())
    for path in sorted((PHOTOS / "with_mask").iterdir()):  # a photo the camera pipeline finds a visitor in
        frame = np.full((480, 640, 3), 90, np.uint8)
        frame[100:356, 300:556] = cv2.resize(cv2.imread(str(path)), (256, 256))
        if camera.observe(frame, 0.0).has_face:
            break
    cv2.imwrite(str(tmp_path / "b_frame.png"), frame)
    cv2.imwrite(str(tmp_path / "a_blank.png"), np.full((480, 640, 3), 128, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    result = checkpoint("mask", "detect", str(tmp_path), "--log-level", "warning")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [Path(line["image"]).name for line in lines] == ["a_blank.png", "b_frame.png"]
    blank, framed = lines
    assert blank["faces"] == [] and blank["mode"] == "camera" and blank["frame_size"] == [640, 480]
    visitors = [f for f in framed["faces"] if f["visitor"]]
    assert len(visitors) == 1
    v = visitors[0]
    assert 300 <= v["x"] + v["w"] / 2 <= 556 and 100 <= v["y"] + v["h"] / 2 <= 356  # the image's own pixels
    assert set(v["probs"]) >= {MASK, NO_MASK} and abs(sum(v["probs"].values()) - 1) < 1e-3
    assert v["verdict"] in (MASK, NO_MASK, MASK_INCORRECT, UNCERTAIN) and 0 < v["score"] <= 1
    still = checkpoint("mask", "detect", str(tmp_path / "b_frame.png"), "--still", "--log-level", "warning")
    assert json.loads(still.stdout)["mode"] == "still"
    missing = checkpoint("mask", "detect", str(tmp_path / "nothing.png"))
    assert missing.returncode == 2 and json.loads(missing.stdout)["error"] == "cannot read image"

"""Mask pipeline: visitor choice, smoothing, the shipped classifier, and figures on shared images."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from checkpoint.config import MaskConfig
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, Box, FaceQuality, MaskObservation
from checkpoint.smoothing import smooth
from drivers.mask.classifier import DEFAULT_MODEL, MaskClassifier, softmax
from drivers.mask.crops import crop_face
from drivers.mask.dataset import split_of
from drivers.mask.evaluate import evaluate, summarise
from drivers.mask.face_detector import Face
from drivers.mask.pipeline import MaskPipeline, choose_visitor

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
DATA = SHARED / "datasets" / "faces-chandrikadeb7"
needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"../shared is absent ({DATA}): no face images")


def face(x, y, w, h, score=0.9) -> Face:
    return Face(x, y, w, h, score)


def test_visitor_is_the_largest_face_inside_the_roi():
    faces = [face(10, 10, 50, 50), face(400, 100, 120, 120), face(300, 300, 80, 80)]
    assert choose_visitor(faces, (640, 480)) is faces[1]
    # region of interest: left half of the frame only
    assert choose_visitor(faces, (640, 480), roi=(0.0, 0.0, 0.5, 1.0)) is faces[0]
    assert choose_visitor(faces, (640, 480), roi=(0.0, 0.0, 0.5, 1.0), min_face_px=60) is None
    assert choose_visitor([], (640, 480)) is None


def test_visitor_prefers_a_clear_face_over_a_larger_doubtful_one():
    poster, person = face(0, 0, 300, 300, score=0.35), face(350, 100, 120, 120, score=0.9)
    assert choose_visitor([poster, person], (640, 480)) is person
    # with only doubtful detections, the largest still counts
    assert choose_visitor([poster, face(350, 100, 120, 120, score=0.4)], (640, 480)) is poster


def test_crop_is_centred_on_the_face_and_grey_outside_the_frame():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[40:60, 40:60] = 255
    crop = crop_face(frame, (40, 38, 20, 20), 64)  # centre shifted down by 5 % of the height
    assert crop.shape == (64, 64, 3)
    assert crop[32, 32].tolist() == [255, 255, 255] and crop[2, 2].tolist() == [0, 0, 0]
    corner = crop_face(frame, (-10, -10, 20, 20), 64)
    assert corner[0, 0].tolist() == [128, 128, 128]


def test_split_is_deterministic_and_about_a_fifth():
    names = [f"{i:016x}.jpg" for i in range(2000)]
    val = [n for n in names if split_of(n) == "val"]
    assert [split_of(n) for n in names] == [split_of(n) for n in names]
    assert 0.16 < len(val) / len(names) < 0.24


def obs(probs, size=100.0, blur=200.0, brightness=120.0, box=True) -> MaskObservation:
    return MaskObservation(t=0.0, box=Box(0, 0, size, size) if box else None, probs=probs if box else {},
                           quality=FaceQuality(size, blur, brightness) if box else None)


def test_smoothing_weights_good_frames_and_skips_frames_without_a_face():
    good = obs({MASK: 0.9, NO_MASK: 0.1})
    blurry_small = obs({MASK: 0.1, NO_MASK: 0.9}, size=20, blur=5, brightness=20)
    result = smooth([good, blurry_small, obs({}, box=False)])
    assert result[MASK] > 0.75 and result[MASK] + result[NO_MASK] == pytest.approx(1.0)
    equal = smooth([good, obs({MASK: 0.1, NO_MASK: 0.9})])
    assert equal[MASK] == pytest.approx(0.5)
    assert smooth([obs({}, box=False)]) == {}
    assert smooth([]) == {}


def test_summarise_counts_no_face_as_wrong():
    rows = [(MASK, MASK, 0.001), (MASK, None, 0.003), (NO_MASK, NO_MASK, 0.002), (NO_MASK, MASK, 0.002)]
    fig = summarise(rows)
    assert (fig["images"], fig["accuracy"], fig["recall_with_mask"], fig["recall_without_mask"]) == (4, 0.5, 0.5, 0.5)
    assert (fig["no_face_rate"], fig["median_ms"], fig["recall_mask_incorrect"]) == (0.25, 2.0, None)
    assert fig["balanced_accuracy"] == 0.5


def test_shipped_classifier_is_small_and_names_its_classes():
    size = DEFAULT_MODEL.stat().st_size + DEFAULT_MODEL.with_suffix(".json").stat().st_size
    assert size < 1_000_000
    clf = MaskClassifier()
    assert clf.classes == (MASK, NO_MASK, MASK_INCORRECT) and clf.has_face_check
    crop = np.full((clf.input_size, clf.input_size, 3), 128, np.uint8)
    probs = clf.predict(crop)
    assert set(probs) == {MASK, NO_MASK, MASK_INCORRECT} and sum(probs.values()) == pytest.approx(1.0)
    # one batch gives what one crop at a time gives
    noise = np.random.default_rng(0).integers(0, 256, crop.shape, dtype=np.uint8)
    batch = clf.predict_many([crop, noise])
    assert batch[0][0] == pytest.approx(probs) and batch[1][0] == pytest.approx(clf.predict(noise))
    assert all(0.0 <= p_not_face <= 1.0 for _, p_not_face in batch)
    assert softmax(np.array([0.0, 0.0])).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("level", [0, 100, 255])
def test_observation_without_a_face(level):
    pipeline = MaskPipeline(MaskConfig())
    frame = np.full((480, 640, 3), level, np.uint8)  # BlazeFace alone "sees" a face in a black frame
    o = pipeline.observe(frame, 12.5)
    assert (o.t, o.box, o.probs, o.faces_in_frame, o.frame_size) == (12.5, None, {}, 0, (640, 480))
    assert pipeline.faces(frame) == []


@needs_shared
@pytest.mark.shared
def test_observation_on_photos_in_a_camera_frame():
    pipeline = MaskPipeline(MaskConfig())
    masked = cv2.imread(str(DATA / "with_mask" / "00b121ea2df287a0.jpg"))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:356, 200:456] = masked
    o = pipeline.observe(frame, 1.0)
    assert o.has_face and o.faces_in_frame >= 1 and o.frame_size == (640, 480)
    assert 200 <= o.box.x + o.box.w / 2 <= 456 and 100 <= o.box.y + o.box.h / 2 <= 356
    assert o.mask_class == MASK and o.confidence > 0.6
    assert o.quality.size_px >= 40 and o.quality.blur > 0 and 0 < o.quality.brightness < 255


@needs_shared
@pytest.mark.shared
def test_the_face_check_drops_texture_of_any_size_and_keeps_small_faces():
    """Every detection is checked, not only those large enough to be the
    visitor: a 32 px box on a patterned wall is a false face all the same."""
    rng = np.random.default_rng(1)
    wall = np.full((480, 640, 3), 110, np.uint8)
    wall[100:400, 300:600] = cv2.GaussianBlur(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8), (5, 5), 0)
    pipeline = MaskPipeline(MaskConfig())
    small_face, small_patch, large_patch = Face(100, 200, 32, 32, 0.5), Face(400, 200, 32, 32, 0.5), \
        Face(350, 150, 100, 100, 0.5)
    pipeline._detect = lambda frame: [small_face, small_patch, large_patch]
    photos = sorted((DATA / "with_mask").glob("*.jpg"))[:10] + sorted((DATA / "without_mask").glob("*.jpg"))[:10]
    kept_faces = 0
    for path in photos:
        frame = wall.copy()
        frame[200:232, 100:132] = cv2.resize(cv2.imread(str(path)), (32, 32), interpolation=cv2.INTER_AREA)
        kept = pipeline.faces(frame)
        assert small_patch not in kept and large_patch not in kept, path.name
        kept_faces += small_face in kept
    # 13 of the 20 when written: a tight crop shrunk to 32 px is hard to tell from texture, and at that
    # size never the visitor (the scenes bench finds about half of the 20-40 px faces)
    assert kept_faces >= 10, f"only {kept_faces} of {len(photos)} small faces passed the face check"


@needs_shared
@pytest.mark.shared
def test_figures_on_a_sample_of_the_validation_split():
    figures = evaluate(DATA, MaskConfig(min_face_px=8), split="val", limit=160)  # photos are small
    assert figures["images"] == 160
    # the acceptance figures (98 % / 97 % / 1 %) are measured on the whole split; a sample gets some slack
    assert figures["accuracy"] >= 0.95
    assert figures["recall_with_mask"] >= 0.93 and figures["recall_without_mask"] >= 0.93
    assert figures["no_face_rate"] <= 0.02


def test_a_photo_of_one_person_is_about_the_face_at_its_centre():
    subject, neighbour = face(90, 90, 60, 60), face(170, 0, 70, 70)  # the neighbour is nearer the camera
    assert choose_visitor([subject, neighbour], (240, 240)) is neighbour  # a camera frame: the largest
    assert choose_visitor([subject, neighbour], (240, 240), photo=True) is subject
    # no face at the centre: the largest still counts
    assert choose_visitor([face(0, 0, 40, 40), face(180, 180, 60, 60)], (240, 240), photo=True).w == 60


def test_in_a_photo_of_two_people_cheek_to_cheek_the_subject_is_the_one_in_the_middle():
    subject, neighbour = face(95, 95, 50, 50), face(125, 60, 70, 70)  # both reach the centre (120, 120)
    assert choose_visitor([subject, neighbour], (240, 240), photo=True) is subject
    assert choose_visitor([subject, neighbour], (240, 240)) is neighbour  # a camera frame: the largest

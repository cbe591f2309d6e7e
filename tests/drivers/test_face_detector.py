"""BlazeFace decoding (pure functions, hand-made outputs) and detection on real images."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.mask.face_detector import (
    ANCHORS, INPUT_SIZE, FaceDetector, decode, letterbox, make_anchors, nms, to_faces,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
DATA = SHARED / "datasets" / "faces-chandrikadeb7"
needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"../shared is absent ({DATA}): no face images")
# A validation-split photo with one clear masked face (256x256).
FACE_IMAGE = DATA / "with_mask" / "00b121ea2df287a0.jpg"


def test_anchor_layout():
    anchors = make_anchors()
    assert anchors.shape == (896, 2)
    # 16x16 cells, 2 anchors each, row-major: cell (x=1, y=0) holds anchors 2 and 3
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    assert np.allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(anchors[2 * 16], [0.5 / 16, 1.5 / 16])
    # then 8x8 cells, 6 anchors each
    assert np.allclose(anchors[512:518], [0.5 / 8, 0.5 / 8])
    assert np.allclose(anchors[518], [1.5 / 8, 0.5 / 8])
    assert np.allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def raw_outputs(entries: dict[int, tuple[float, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Model-shaped outputs: every anchor scores -10 except the given ones."""
    logits = np.full((1, 896, 1), -10.0, np.float32)
    regressors = np.zeros((1, 896, 16), np.float32)
    for i, (logit, reg) in entries.items():
        logits[0, i, 0] = logit
        regressors[0, i, :len(reg)] = reg
    return logits, regressors


def test_decode_box_and_keypoints_from_known_regressors():
    # anchor 600 is in the 8x8 grid: cell (600-512)//6 = 14 -> x=6, y=1 -> centre (6.5/8, 1.5/8)
    i = 600
    ax, ay = ANCHORS[i]
    assert np.allclose([ax, ay], [6.5 / 8, 1.5 / 8])
    reg = [8.0, -4.0, 32.0, 40.0] + [2.0, 3.0] * 6  # centre offset, size, keypoints in input pixels
    logits, regressors = raw_outputs({i: (2.0, reg)})
    boxes, scores, kps = decode(logits, regressors, 0.3)
    assert boxes.shape == (1, 4) and kps.shape == (1, 6, 2)
    cx, cy = ax + 8 / 128, ay - 4 / 128
    assert np.allclose(boxes[0], [cx - 16 / 128, cy - 20 / 128, cx + 16 / 128, cy + 20 / 128], atol=1e-6)
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert np.allclose(kps[0], [[ax + 2 / 128, ay + 3 / 128]] * 6, atol=1e-6)


def test_decode_applies_score_threshold():
    logits, regressors = raw_outputs({10: (0.0, [0, 0, 10, 10]), 700: (-0.5, [0, 0, 10, 10])})
    # sigmoid(0) = 0.5, sigmoid(-0.5) = 0.38
    assert len(decode(logits, regressors, 0.3)[1]) == 2
    assert len(decode(logits, regressors, 0.45)[1]) == 1
    assert len(decode(logits, regressors, 0.6)[1]) == 0


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]], np.float32)
    scores = np.array([0.7, 0.9, 0.5], np.float32)
    assert nms(boxes, scores) == [1, 2]


def test_letterbox_and_mapping_back_to_a_640x480_frame():
    frame = np.zeros((480, 640, 3), np.uint8)
    square, scale, pad_x, pad_y = letterbox(frame)
    assert square.shape == (INPUT_SIZE, INPUT_SIZE, 3)
    assert scale == pytest.approx(0.2) and (pad_x, pad_y) == (0.0, 16.0)
    # a face at frame pixels x 100..300, y 80..280 sits at input pixels 20..60, 32..72
    box = np.array([[20 / 128, 32 / 128, 60 / 128, 72 / 128]], np.float32)
    kps = np.full((1, 6, 2), [40 / 128, 52 / 128], np.float32)
    (face,) = to_faces(box, np.array([0.9]), kps, scale, pad_x, pad_y)
    assert (face.x, face.y, face.w, face.h) == pytest.approx((100, 80, 200, 200), abs=1e-3)
    assert face.keypoints[0] == pytest.approx((200, 180), abs=1e-3)


def test_model_outputs_have_the_expected_names_and_shapes():
    detector = FaceDetector()
    detector._net.setInput(np.zeros((1, 3, 128, 128), np.float32))
    logits, regressors = detector._net.forward(["classificators", "regressors"])
    assert logits.shape == (1, 896, 1) and regressors.shape == (1, 896, 16)


def test_no_face_in_a_plain_frame():
    frame = np.full((480, 640, 3), 127, np.uint8)
    assert FaceDetector().detect(frame) == []


@needs_shared
@pytest.mark.shared
def test_detection_on_a_photo_is_consistent_inside_a_camera_frame():
    image = cv2.imread(str(FACE_IMAGE))
    detector = FaceDetector(0.3)
    faces = detector.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.7 and 0.3 * 256 < face.w < 0.7 * 256
    right_eye, left_eye, nose, mouth = face.keypoints[:4]
    assert face.x < right_eye[0] < left_eye[0] < face.x + face.w  # eyes inside, right eye on the image's left
    assert right_eye[1] < mouth[1] and nose[1] < mouth[1]
    # the same photo placed at (300, 150) in a 640x480 frame: the face shrinks
    # from 60 to 24 input pixels, the box must land on the same place
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[150:406, 300:556] = image
    (moved,) = detector.detect(frame)
    expected = (300 + face.x, 150 + face.y, face.w, face.h)
    # one input pixel is 5 frame pixels here: allow two
    assert (moved.x, moved.y, moved.w, moved.h) == pytest.approx(expected, abs=10)


@needs_shared
@pytest.mark.shared
def test_tight_face_crop_is_found_with_the_padded_retry():
    image = cv2.imread(str(FACE_IMAGE))
    detector = FaceDetector(0.3)
    (face,) = detector.detect(image)
    x0, y0 = int(face.x), int(face.y)
    crop = np.ascontiguousarray(image[y0:y0 + int(face.h), x0:x0 + int(face.w)])
    found = detector.detect(crop)
    assert found, "the padded retry should find the face in its own tight crop"
    best = max(found, key=lambda f: f.area)
    assert best.w > 0.6 * crop.shape[1]

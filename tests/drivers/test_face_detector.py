"""BlazeFace decoding (pure functions, hand-made outputs) and detection on real images."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.mask import detector_export
from drivers.mask.face_detector import FaceDetector, decode, fit, input_size, iou, make_anchors, nms, to_faces

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
DATA = SHARED / "datasets" / "faces-chandrikadeb7"
needs_shared = pytest.mark.skipif(not DATA.is_dir(), reason=f"../shared is absent ({DATA}): no face images")
# A validation-split photo with one clear masked face (256x256).
FACE_IMAGE = DATA / "with_mask" / "00b121ea2df287a0.jpg"


def test_anchor_layout_of_the_square_input():
    anchors = make_anchors(128, 128)
    assert anchors.shape == (896, 2)
    # 16x16 cells of 8 px, 2 anchors each, row-major: cell (x=1, y=0) holds anchors 2 and 3
    assert np.array_equal(anchors[0], anchors[1]) and np.array_equal(anchors[0], [4, 4])
    assert np.array_equal(anchors[2], [12, 4])
    assert np.array_equal(anchors[2 * 16], [4, 12])
    # then 8x8 cells of 16 px, 6 anchors each
    assert np.array_equal(anchors[512:518], [[8, 8]] * 6)
    assert np.array_equal(anchors[518], [24, 8])
    assert np.array_equal(anchors[-1], [120, 120])


def test_anchor_layout_of_a_4_3_input():
    anchors = make_anchors(128, 96)
    assert anchors.shape == (16 * 12 * 2 + 8 * 6 * 6, 2)
    assert np.array_equal(anchors[16 * 2], [4, 12])  # second row of the fine grid
    fine = 16 * 12 * 2
    assert np.array_equal(anchors[fine + 8 * 6], [8, 24])  # second row of the coarse grid
    assert np.array_equal(anchors[-1], [120, 88])


def raw_outputs(entries: dict[int, tuple[float, list[float]]], n: int = 896) -> tuple[np.ndarray, np.ndarray]:
    """Model-shaped outputs: every anchor scores -10 except the given ones."""
    logits = np.full((1, n, 1), -10.0, np.float32)
    regressors = np.zeros((1, n, 16), np.float32)
    for i, (logit, reg) in entries.items():
        logits[0, i, 0] = logit
        regressors[0, i, :len(reg)] = reg
    return logits, regressors


def test_decode_box_and_keypoints_from_known_regressors():
    anchors = make_anchors(128, 128)
    # anchor 600 is in the 8x8 grid: cell (600-512)//6 = 14 -> x=6, y=1 -> centre (104, 24) px
    i = 600
    assert np.array_equal(anchors[i], [104, 24])
    reg = [8.0, -4.0, 32.0, 40.0] + [2.0, 3.0] * 6  # centre offset, size, keypoints in input pixels
    logits, regressors = raw_outputs({i: (2.0, reg)})
    boxes, scores, kps = decode(logits, regressors, 0.3, anchors)
    assert boxes.shape == (1, 4) and kps.shape == (1, 6, 2)
    assert np.allclose(boxes[0], [112 - 16, 20 - 20, 112 + 16, 20 + 20])
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert np.allclose(kps[0], [[106, 27]] * 6)


def test_decode_applies_score_threshold():
    anchors = make_anchors(128, 128)
    logits, regressors = raw_outputs({10: (0.0, [0, 0, 10, 10]), 700: (-0.5, [0, 0, 10, 10])})
    # sigmoid(0) = 0.5, sigmoid(-0.5) = 0.38
    assert len(decode(logits, regressors, 0.3, anchors)[1]) == 2
    assert len(decode(logits, regressors, 0.45, anchors)[1]) == 1
    assert len(decode(logits, regressors, 0.6, anchors)[1]) == 0


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]], np.float32)
    scores = np.array([0.7, 0.9, 0.5], np.float32)
    assert nms(boxes, scores) == [1, 2]


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        order = [j for j in order if iou(boxes[i], boxes[[j]])[0] <= threshold]
    return keep


@pytest.mark.slow
def test_nms_matches_a_plain_greedy_reference_on_random_boxes():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        corner = rng.uniform(0, 100, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(5, 40, (n, 2))], axis=1).astype(np.float32)
        scores = rng.permutation(n).astype(np.float32) / max(n, 1) + 0.01  # distinct: the order is defined
        assert nms(boxes, scores) == greedy_nms(boxes, scores, 0.3)


def test_a_640x480_frame_runs_at_128x96_and_maps_back():
    frame = np.zeros((480, 640, 3), np.uint8)
    image, scale, pad_x, pad_y = fit(frame)
    assert image.shape == (96, 128, 3)  # no padding: 4:3 fits the 16 px grid
    assert scale == pytest.approx(0.2) and (pad_x, pad_y) == (0.0, 0.0)
    # a face at frame pixels x 100..300, y 80..280 sits at input pixels 20..60, 16..56
    box = np.array([[20, 16, 60, 56]], np.float32)
    kps = np.full((1, 6, 2), [40, 36], np.float32)
    (face,) = to_faces(box, np.array([0.9]), kps, scale, pad_x, pad_y)
    assert (face.x, face.y, face.w, face.h) == pytest.approx((100, 80, 200, 200), abs=1e-3)
    assert face.keypoints[0] == pytest.approx((200, 180), abs=1e-3)


@pytest.mark.parametrize("size, expected", [
    ((640, 480), (128, 96)), ((1280, 720), (128, 80)), ((480, 640), (96, 128)),
    ((256, 256), (128, 128)), ((300, 200), (128, 96)), ((40, 400), (16, 128)),
])
def test_input_size_keeps_the_aspect_and_rounds_up_to_16(size, expected):
    assert input_size(*size)[:2] == expected


def test_a_padded_input_is_centred_and_maps_back():
    frame = np.full((200, 300, 3), 255, np.uint8)  # 300x200 -> 128x85 content in a 128x96 input
    image, scale, pad_x, pad_y = fit(frame)
    assert image.shape == (96, 128, 3) and (pad_x, pad_y) == (0.0, 5.0)
    assert image[:5].max() == 0 and image[5:90].min() == 255 and image[90:].max() == 0
    (face,) = to_faces(np.array([[0, 5, 128, 90]], np.float32), np.array([0.9]), np.zeros((1, 6, 2)),
                       scale, pad_x, pad_y)
    assert (face.x, face.y, face.w, face.h) == pytest.approx((0, 0, 300, 199.2), abs=0.5)


def test_model_outputs_have_the_expected_names_and_shapes():
    detector = FaceDetector()
    for width, height in ((128, 128), (128, 96), (96, 128)):
        logits, regressors = detector.raw_outputs(np.zeros((height, width, 3), np.uint8))
        n = len(make_anchors(width, height))
        assert logits.shape == (1, n, 1) and regressors.shape == (1, n, 16)


def test_onnx_detector_reproduces_the_mediapipe_tflite_file():
    """The shipped ONNX graph is the TFLite model rewritten: same outputs at 128x128."""
    diff = detector_export.max_difference(detector_export.TFLITE_PATH, detector_export.ONNX_PATH,
                                          detector_export.test_inputs(seed=1))
    assert diff < detector_export.MAX_DIFFERENCE


@pytest.mark.slow
def test_exporter_rebuilds_the_shipped_detector(tmp_path):
    pytest.importorskip("onnx", reason="the exporter needs onnx (pip install .[train])")
    out = tmp_path / "detector.onnx"
    assert detector_export.main([str(out)]) == 0
    rebuilt, shipped = cv2.dnn.readNetFromONNX(str(out)), cv2.dnn.readNetFromONNX(str(detector_export.ONNX_PATH))
    blob = np.random.default_rng(2).uniform(-1, 1, (1, 3, 96, 128)).astype(np.float32)
    outputs = []
    for net in (rebuilt, shipped):
        net.setInput(blob)
        outputs.append(net.forward(list(detector_export.OUTPUTS)))
    for a, b in zip(*outputs):
        assert np.array_equal(a, b)


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


@needs_shared
@pytest.mark.shared
def test_a_large_tight_crop_is_retried_as_a_still_photo_but_not_as_a_camera_frame():
    # a 100x100 validation photo that is all face (mask on), blown up to 600x600:
    # no context around the face, and too large for the camera's retry rule
    image = cv2.imread(str(DATA / "with_mask" / "2f62a30c65c27934.jpg"))
    large = cv2.resize(image, (600, 600), interpolation=cv2.INTER_LINEAR)
    assert FaceDetector(0.3, reach_side=0).detect(large) == []  # a camera frame gets no padded retry
    (face,) = FaceDetector(0.3, retry_max_side=None).detect(large)
    assert face.w > 0.6 * 600 and -60 < face.x and face.x + face.w < 660


@needs_shared
@pytest.mark.shared
def test_a_small_face_in_a_large_photo_is_found_in_the_quarters():
    image = cv2.imread(str(FACE_IMAGE))
    (face,) = FaceDetector(0.3).detect(image)
    canvas = np.full((960, 1280, 3), 100, np.uint8)  # the photo at 200 px in a 1280x960 picture
    canvas[600:800, 900:1100] = cv2.resize(image, (200, 200), interpolation=cv2.INTER_AREA)
    assert FaceDetector(0.3, retry_max_side=None).detect(canvas) == []  # 15 px of detector input: too small
    found = FaceDetector(0.3, retry_max_side=None, tile_retry=True).detect(canvas)
    assert len(found) == 1
    s = 200 / 256
    expected = (900 + face.x * s, 600 + face.y * s, face.w * s, face.h * s)
    assert (found[0].x, found[0].y, found[0].w, found[0].h) == pytest.approx(expected, abs=12)

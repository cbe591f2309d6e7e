"""Boxed scene photos, head pose, the reach pass and the region of interest."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from checkpoint.config import MaskConfig
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK
from drivers.mask.face_detector import FaceDetector
from drivers.mask.pipeline import MaskPipeline, roi_pixels
from drivers.mask.pose import head_pose
from drivers.mask.scenes import bucket_of, list_scenes, match, person_photo, read_annotation, to_frame
from drivers.mask.synthetic import draw_hand, draw_incorrect_mask

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
PHOTOS = SHARED / "datasets" / "faces-chandrikadeb7"
needs_shared = pytest.mark.skipif(not PHOTOS.is_dir(), reason=f"../shared is absent ({PHOTOS}): no face images")

VOC = """<annotation><filename>{name}.png</filename><size><width>200</width><height>100</height></size>
<object><name>with_mask</name><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>50</xmax><ymax>70</ymax></bndbox></object>
<object><name>without_mask</name><bndbox><xmin>100</xmin><ymin>10</ymin><xmax>130</xmax><ymax>40</ymax></bndbox></object>
<object><name>mask_weared_incorrect</name><bndbox><xmin>150</xmin><ymin>50</ymin><xmax>190</xmax><ymax>95</ymax></bndbox>
</object></annotation>"""


def make_scenes(root: Path, names: list[str]) -> None:
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name in names:
        (root / "annotations" / f"{name}.xml").write_text(VOC.format(name=name))
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), np.full((100, 200, 3), 90, np.uint8))


def test_annotations_give_labels_and_boxes(tmp_path):
    make_scenes(tmp_path, ["a"])
    _, faces = read_annotation(tmp_path / "annotations" / "a.xml")
    assert [f.label for f in faces] == [MASK, NO_MASK, MASK_INCORRECT]
    assert faces[0].box == (10.0, 20.0, 40.0, 50.0) and faces[0].short_side == 40.0
    (tmp_path / "annotations" / "a.xml").write_text(VOC.format(name="a").replace("with_mask", "helmet"))
    with pytest.raises(ValueError, match="helmet"):
        read_annotation(tmp_path / "annotations" / "a.xml")


def test_scenes_split_by_photo_deterministically(tmp_path):
    names = [f"scene{i}" for i in range(60)]
    make_scenes(tmp_path, names)
    val = {s.image_path.stem for s in list_scenes(tmp_path, "val")}
    train = {s.image_path.stem for s in list_scenes(tmp_path, "train")}
    assert val and train and not val & train and val | train == set(names)
    assert val == {s.image_path.stem for s in list_scenes(tmp_path, "val")}
    with pytest.raises(FileNotFoundError):
        list_scenes(tmp_path / "images")


def test_a_scene_fits_a_camera_frame_and_a_face_is_cut_as_a_photo():
    image = np.zeros((300, 400, 3), np.uint8)
    image[100:150, 200:240] = 255
    frame, scale, ox, oy = to_frame(image)
    assert frame.shape == (480, 640, 3) and scale == pytest.approx(1.6) and (ox, oy) == (0.0, 0.0)
    assert frame[int(100 * scale + oy) + 5, int(200 * scale + ox) + 5].tolist() == [255, 255, 255]
    photo = person_photo(image, (200, 100, 40, 50))  # grown by one face side (50 px) each way
    assert photo.shape == (150, 140, 3)
    assert person_photo(image, (0, 0, 40, 50)).shape == (100, 90, 3)  # clipped at the photo's edge


def test_matching_is_one_to_one_and_counts_false_detections():
    truth = [(0, 0, 50, 50), (100, 0, 50, 50)]
    found = [(2, 2, 50, 50), (4, 0, 48, 52), (300, 300, 40, 40)]
    of_truth, false = match(truth, found)
    assert of_truth[0] in (0, 1) and of_truth[1] is None and false == 2
    assert bucket_of(39.9) == "20-40" and bucket_of(40) == "40-60" and bucket_of(150) == ">=100"
    assert bucket_of(10) is None


def keypoints(yaw_deg: float = 0.0, roll_deg: float = 0.0, size: float = 100.0):
    """Six BlazeFace keypoints of a head at the origin turned by yaw and tilted by roll."""
    half = size / 2
    s = math.sin(math.radians(yaw_deg))
    points = [(-0.3 * half + s * 0.3 * half, -0.2 * half), (0.3 * half + s * 0.3 * half, -0.2 * half),
              (s * half, 0.1 * half), (s * 0.5 * half, 0.4 * half), (-half, 0.0), (half, 0.0)]
    c, r = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    return [(x * c - y * r + 200, x * r + y * c + 200) for x, y in points]


def test_head_pose_from_keypoints():
    yaw, roll = head_pose(keypoints())
    assert abs(yaw) < 1 and abs(roll) < 1
    yaw, roll = head_pose(keypoints(roll_deg=30))
    assert abs(yaw) < 1 and roll == pytest.approx(30, abs=0.5)
    assert head_pose(keypoints(yaw_deg=30))[0] == pytest.approx(30, abs=3)
    assert head_pose(keypoints(yaw_deg=-50))[0] == pytest.approx(-50, abs=5)
    assert head_pose(keypoints(yaw_deg=90))[0] > 80  # profile: the nose at one ear
    assert head_pose(keypoints()[:4]) == (None, None)


def test_region_of_interest_in_pixels_reaches_beyond_it_and_stays_in_the_frame():
    assert roi_pixels((0.25, 0.25, 0.5, 0.5), 640, 480, margin=0) == (160, 120, 480, 360)
    assert roi_pixels((0.25, 0.25, 0.5, 0.5), 640, 480) == (96, 72, 544, 408)
    assert roi_pixels((0.0, 0.0, 1.0, 1.0), 640, 480) == (0, 0, 640, 480)


def test_synthetic_wear_and_hands_change_the_mouth_region_only():
    rng = np.random.default_rng(0)
    image = np.full((200, 200, 3), 150, np.uint8)
    kps = np.array([[80, 80], [120, 80], [100, 105], [100, 125]], np.float32)
    for draw in (draw_incorrect_mask, draw_hand):
        drawn = image.copy()
        draw(drawn, kps, rng)
        changed = np.argwhere(np.abs(drawn.astype(int) - image).sum(2) > 30)
        assert len(changed) > 200
        assert changed[:, 0].min() >= 60  # nothing drawn above the eyes (the forehead stays bare)
    below = image.copy()
    assert draw_incorrect_mask(below, kps, rng, "below_nose") == "below_nose"
    rows = np.flatnonzero(np.abs(below.astype(int) - image).sum((1, 2)) > 0)
    assert rows.min() > 105 - 2  # the nose tip stays bare


@needs_shared
@pytest.mark.shared
def test_the_reach_pass_finds_a_small_face_the_first_pass_misses():
    photo = cv2.imread(str(PHOTOS / "without_mask" / sorted(os.listdir(PHOTOS / "without_mask"))[0]))
    face = FaceDetector(retry_max_side=None).detect(photo)[0]
    scale = 55 / min(face.w, face.h)  # the face becomes 55 px in a 640x480 frame
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[200:200 + small.shape[0], 300:300 + small.shape[1]] = small
    centre = (300 + (face.x + face.w / 2) * scale, 200 + (face.y + face.h / 2) * scale)

    def found(detector):
        return [f for f in detector.detect(frame) if abs(f.x + f.w / 2 - centre[0]) < 15
                and abs(f.y + f.h / 2 - centre[1]) < 15]

    assert not found(FaceDetector(reach_side=0))
    reach = FaceDetector()
    assert found(reach) and reach.reach_passes == 1
    # a visitor filling the frame needs no reach pass
    big = cv2.resize(photo, (400, 400))
    frame[40:440, 120:520] = big
    detector = FaceDetector()
    assert detector.detect(frame) and detector.reach_passes == 0
    # a region of interest around the small face finds it in the first pass alone
    pipeline = MaskPipeline(MaskConfig(reach_side=0), roi=((centre[0] - 80) / 640, (centre[1] - 80) / 480,
                                                          160 / 640, 160 / 480))
    frame[:] = 100
    frame[200:200 + small.shape[0], 300:300 + small.shape[1]] = small
    assert any(abs(f.x + f.w / 2 - centre[0]) < 15 for f in pipeline.faces(frame))

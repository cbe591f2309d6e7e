"""`checkpoint camera test` on small video files written here with cv2.VideoWriter."""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from checkpoint.cli import main

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CHECKPOINT_SHARED_DIR") or REPO.parent / "shared")
DATA = SHARED / "datasets" / "faces-chandrikadeb7"
FACE_IMAGE = DATA / "with_mask" / "00b121ea2df287a0.jpg"  # one face, about 100 px of the 256 px photo
needs_shared = pytest.mark.skipif(not FACE_IMAGE.is_file(), reason=f"../shared is absent ({DATA}): no face photo")


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def config(tmp_path: Path, video: Path, fps: float = 10.0, extra: str = "") -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(f'[camera]\nsource = "{video}"\nfps = {fps}\n{extra}', encoding="utf-8")
    return path


def face_frames(n: int, size: int) -> list[np.ndarray]:
    """The photo scaled to ``size`` px, pasted into the middle of a 640x480 frame."""
    photo = cv2.resize(cv2.imread(str(FACE_IMAGE)), (size, size), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        frame = np.full((480, 640, 3), 110, np.uint8)
        cv2.rectangle(frame, (0, 400), (640, 480), (60, 80, 90), -1)  # some floor, not a flat frame
        x, y = 320 - size // 2 + (i % 3), 240 - size // 2
        frame[y:y + size, x:x + size] = photo
        frames.append(frame)
    return frames


def run_test(capsys, cfg: Path, seconds: float = 1.5) -> tuple[int, str]:
    code = main(["camera", "test", "--seconds", str(seconds), "-c", str(cfg)])
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_no_face_video_reports_resolution_rate_and_no_visitor(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frames = [np.clip(rng.normal(120, 25, (480, 640, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    video = write_video(tmp_path / "empty.avi", frames)
    code, out = run_test(capsys, config(tmp_path, video))
    assert code == 0, out
    assert "resolution        640x480" in out
    captured, analysed = map(float, re.search(r"captured ([\d.]+)/s, analysed ([\d.]+)/s", out).groups())
    assert 5 <= captured <= 13 and 3 <= analysed <= 11  # the file is paced at its own 10 fps
    assert "faces per frame   min / median / max 0 / 0 / 0" in out
    assert "visitor found     0 of" in out
    assert "too close" not in out and "min_face_px" not in out.split("visitor found")[1].split("(needs")[0]


@pytest.mark.slow
def test_frame_rate_below_camera_fps_is_a_warning(tmp_path, capsys):
    frames = [np.full((240, 320, 3), 100, np.uint8) for _ in range(20)]
    video = write_video(tmp_path / "slow.avi", frames, fps=5.0)
    code, out = run_test(capsys, config(tmp_path, video, fps=15.0))
    assert code == 0
    assert "resolution        320x240 (asked 640x480)" in out
    assert "warning: frame rate captured" in out and "below camera.fps = 15" in out


@pytest.mark.slow
def test_a_camera_that_gives_nothing_exits_1(tmp_path, capsys):
    cfg = config(tmp_path, tmp_path / "missing.avi", extra="stall_s = 0.5\n")
    code = main(["camera", "test", "--seconds", "1", "-c", str(cfg)])
    out = capsys.readouterr().out
    assert code == 1
    assert "no frame" in out


def test_the_simulated_source_is_refused(tmp_path, capsys):
    assert main(["camera", "test", "--seconds", "1"]) == 2
    assert "simulated" in capsys.readouterr().err


@needs_shared
@pytest.mark.shared
def test_a_face_video_reports_the_visitor_and_its_size(tmp_path, capsys):
    video = write_video(tmp_path / "face.avi", face_frames(30, 256))
    code, out = run_test(capsys, config(tmp_path, video))
    assert code == 0, out
    found, total = map(int, re.search(r"visitor found     (\d+) of (\d+)", out).groups())
    assert total >= 5 and found >= 0.8 * total, out
    low, median, high = map(int, re.search(r"size min / median / max (\d+) / (\d+) / (\d+) px", out).groups())
    assert 70 <= low <= median <= high <= 160, out  # the face is about 100 px of the 256 px photo
    assert "warning: the visitor" not in out and "too far" not in out


@needs_shared
@pytest.mark.shared
def test_a_face_too_close_and_one_too_far_are_warnings(tmp_path, capsys):
    close = write_video(tmp_path / "close.avi", face_frames(20, 470))
    code, out = run_test(capsys, config(tmp_path, close))
    assert code == 0
    assert "warning: the visitor's face was over a third of the frame (160 px)" in out, out
    far = write_video(tmp_path / "far.avi", face_frames(20, 256))
    code, out = run_test(capsys, config(tmp_path, far, extra="[mask]\nmin_face_px = 300\n"))
    assert code == 0
    assert "visitor found     0 of" in out
    assert "warning: the nearest face was under mask.min_face_px = 300 px" in out, out

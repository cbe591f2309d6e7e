"""Camera capture on real video files written by OpenCV (MJPG in AVI)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from polling import wait_until

from checkpoint.clock import LiveClock
from checkpoint.config import CameraConfig, MaskConfig
from checkpoint.health import DEGRADED, DOWN, OK, HealthRegistry
from checkpoint.messages import MaskObservation
from drivers.camera import CameraCapture, parse_source
from drivers.vision import CameraWatcher


def write_video(path: Path, frames: int, fps: float, level: int = 0, size=(64, 48)) -> None:
    """Frame i is flat grey at ``level + 10 * i``: the brightness tells which frame it is."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), min(level + 10 * i, 255), np.uint8))
    writer.release()


def frame_level(frame: np.ndarray) -> int:
    return int(round(float(frame.mean())))


@pytest.fixture
def health():
    registry = HealthRegistry()
    return registry, registry.reporter("camera")


def capture_for(path: Path, reporter, **kwargs) -> CameraCapture:
    config = CameraConfig(source=str(path), stall_s=kwargs.pop("stall_s", 3.0))
    return CameraCapture(config, LiveClock(), reporter, **kwargs)


def test_parse_source():
    assert parse_source("0") == 0
    assert parse_source("2") == 2
    assert parse_source("rtsp://10.0.0.5/stream") == "rtsp://10.0.0.5/stream"
    assert parse_source("/tmp/clip.avi") == "/tmp/clip.avi"
    with pytest.raises(ValueError):
        parse_source("simulated")


def test_reads_frames_keeps_newest_and_stamps_times(tmp_path, health):
    registry, reporter = health
    path = tmp_path / "clip.avi"
    write_video(path, frames=12, fps=25)
    cam = capture_for(path, reporter, realtime=False)
    cam.start()
    try:
        first = cam.wait_frame(timeout=5)
        assert first is not None and first[1].shape == (48, 64, 3)
        assert wait_until(lambda: cam.frames == 12)
        t_last, frame_last = cam.latest()
        assert frame_level(frame_last) == pytest.approx(110, abs=3)  # the 12th frame, not a queued old one
        assert t_last >= first[0]
        assert registry.get("camera").counters["opens"] >= 1
    finally:
        cam.stop()


def test_video_file_plays_at_its_own_fps(tmp_path, health):
    registry, reporter = health
    path = tmp_path / "clip.avi"
    write_video(path, frames=10, fps=20)  # 0.5 s of video
    cam = capture_for(path, reporter)
    times = []
    cam.start()
    try:
        t = None
        while len(times) < 10:
            got = cam.wait_frame(newer_than=t, timeout=5)
            assert got is not None
            t = got[0]
            times.append(t)
    finally:
        cam.stop()
    # 9 intervals of 50 ms; played as fast as possible this would take a few ms
    assert times[-1] - times[0] == pytest.approx(0.45, abs=0.15)


def test_file_end_is_lost_then_reconnects_when_file_returns(tmp_path, health):
    registry, reporter = health
    path = tmp_path / "clip.avi"
    write_video(path, frames=5, fps=25, level=0)
    cam = capture_for(path, reporter, realtime=False, backoff_s=0.05, backoff_max_s=0.2)
    cam.start()
    try:
        assert cam.wait_frame(timeout=5) is not None
        assert wait_until(lambda: registry.get("camera").counters.get("lost", 0) >= 1)
        path.unlink()  # the camera is gone: reopening fails, health stays down
        assert wait_until(lambda: registry.get("camera").counters.get("open_failures", 0) >= 2)
        state = registry.get("camera")
        assert state.state == DOWN and "cannot open" in state.message
        write_video(path, frames=5, fps=25, level=200)  # the camera comes back, showing something else
        assert wait_until(lambda: cam.latest() is not None and frame_level(cam.latest()[1]) >= 195)
        assert registry.get("camera").counters["opens"] >= 2
    finally:
        cam.stop()


def test_missing_source_reports_down_without_raising(tmp_path, health):
    registry, reporter = health
    cam = capture_for(tmp_path / "nothing.avi", reporter, backoff_s=0.05, backoff_max_s=0.1)
    cam.start()
    try:
        assert wait_until(lambda: registry.get("camera").state == DOWN)
        assert cam.latest() is None
        assert cam.wait_frame(timeout=0.05) is None
    finally:
        cam.stop()


@pytest.mark.slow
def test_stall_is_reported_when_frames_stop_coming(tmp_path, health):
    registry, reporter = health
    path = tmp_path / "slow.avi"
    write_video(path, frames=4, fps=2)  # a frame every 0.5 s
    states = []
    lock = threading.Lock()

    def listener(component):
        with lock:
            states.append(component.state)

    registry.on_change(listener)
    cam = capture_for(path, reporter, stall_s=0.15)
    cam.start()
    try:
        assert wait_until(lambda: registry.get("camera").counters.get("stalls", 0) >= 1)
        assert wait_until(lambda: registry.get("camera").counters.get("lost", 0) >= 1)
    finally:
        cam.stop()
    with lock:
        assert states[:3] == [OK, DEGRADED, OK]  # stalled between frames, recovered at the next one


def test_camera_watcher_refuses_the_simulated_source():
    registry = HealthRegistry()
    with pytest.raises(ValueError):
        CameraWatcher(CameraConfig(source="simulated"), MaskConfig(), LiveClock(), registry.reporter("camera"),
                      lambda obs: None)


def test_camera_watcher_turns_frames_into_observations(tmp_path):
    path = tmp_path / "gate.avi"
    write_video(path, frames=30, fps=30, size=(640, 480))
    registry = HealthRegistry()
    seen: list[MaskObservation] = []
    got_three = threading.Event()

    def on_observation(obs: MaskObservation) -> None:
        seen.append(obs)
        if len(seen) >= 3:
            got_three.set()

    watcher = CameraWatcher(CameraConfig(source=str(path), fps=20), MaskConfig(), LiveClock(),
                            registry.reporter("camera"), on_observation)
    watcher.start()
    try:
        assert got_three.wait(10)
    finally:
        watcher.stop()
    assert all(o.frame_size == (640, 480) and o.box is None and o.faces_in_frame == 0 for o in seen)
    assert [o.t for o in seen] == sorted(o.t for o in seen)
    assert registry.get("camera").counters.get("pipeline_errors", 0) == 0


def test_face_jpeg_is_the_clipped_face_box():
    from checkpoint.messages import Box
    from drivers.vision import face_jpeg

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[100:200, 600:640] = (0, 0, 255)
    data = face_jpeg(frame, Box(600, 100, 80, 100))  # runs off the right edge
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (100, 40)
    assert image[50, 20, 2] > 200 and image[50, 20, 0] < 60
    assert face_jpeg(frame, Box(700, 100, 50, 50)) is None

"""A live agent keeps running while its scanner is unplugged and its camera lost, and both come back by themselves.

Real parts: AgentRuntime, the thermal reader on a virtual scanner's pseudo-terminal (unplugged and
replugged like a USB cable), the OpenCV capture of a video file that ends and is gone (lost) until it is
written again (back), the recorder and the GateStatus heartbeat in the gate's SQLite log.

The camera's frames go through the shipped detector and classifier; they show no face, so the visitor
decided after the recovery is measured (36.6 °C) and not let in for want of a face: the decision used
both devices again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from polling import wait_until
from sqlalchemy import select

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.health import DOWN, OK
from checkpoint.models import Entry, GateStatus
from checkpoint.runtime import AgentRuntime
from drivers.thermal.virtual import VirtualScanner


def write_video(path: Path, seconds: float, fps: float = 20.0, size=(160, 120)) -> None:
    partial = path.with_name("partial-" + path.name)
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(int(seconds * fps)):
        writer.write(np.full((size[1], size[0], 3), (i * 7) % 256, np.uint8))
    writer.release()
    partial.rename(path)  # appears whole, as a camera coming back would


def gate_row(engine) -> dict:
    with engine.connect() as connection:
        row = connection.execute(select(GateStatus.components, GateStatus.updated_at)).first()
    if row is None:
        return {}
    return {name: item["state"] for name, item in json.loads(row[0]).items()} | {"updated_at": row[1]}


def entries_after(engine, after: float) -> list:
    with engine.connect() as connection:
        rows = connection.execute(select(Entry.decided_at, Entry.outcome, Entry.body_c, Entry.mask_class,
                                         Entry.reasons).order_by(Entry.id)).all()
    return [row for row in rows if row[0].timestamp() > after]


@pytest.mark.slow
def test_scanner_unplugged_and_camera_lost_both_recover(tmp_path):
    video = tmp_path / "camera.avi"
    write_video(video, seconds=3)
    scanner = VirtualScanner("ascii", idle_interval_s=0.2)
    path = scanner.start()
    local_url = f"sqlite:///{tmp_path / 'gate.db'}"
    settings = Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": "west"},
        "scanner": {"url": path, "protocol": "ascii", "timeout_s": 2.0, "reconnect_max_s": 0.5},
        "camera": {"source": str(video), "fps": 10, "stall_s": 1.0},
        "database": {"url": local_url},
    })
    local = open_database(local_url)
    runtime = AgentRuntime(settings, engine=local, heartbeat_s=0.2).start()
    health = runtime.health
    try:
        assert wait_until(lambda: health.get("scanner").state == OK and health.get("camera").state == OK)
        assert wait_until(lambda: gate_row(local).get("scanner") == OK and gate_row(local).get("camera") == OK)

        scanner.unplug()
        video.unlink()  # the capture still plays its open copy; when it ends, reopening fails: lost
        assert wait_until(lambda: health.get("scanner").state == DOWN, timeout=10)
        assert wait_until(lambda: health.get("camera").state == DOWN, timeout=10)
        assert wait_until(lambda: gate_row(local).get("scanner") == DOWN and gate_row(local).get("camera") == DOWN)
        # the agent keeps running: its threads live and the heartbeat keeps coming
        beat = gate_row(local)["updated_at"]
        assert wait_until(lambda: gate_row(local)["updated_at"] > beat)
        assert all(thread.is_alive() for thread in runtime._threads)
        # it keeps trying to reopen the lost camera
        assert wait_until(lambda: health.get("camera").counters.get("open_failures", 0) >= 1)
        assert health.get("camera").state == DOWN

        scanner.replug()
        write_video(video, seconds=60)
        assert wait_until(lambda: health.get("scanner").state == OK, timeout=10)
        assert wait_until(lambda: health.get("camera").state == OK, timeout=30)  # reopen backoff may have grown
        assert wait_until(lambda: gate_row(local).get("scanner") == OK and gate_row(local).get("camera") == OK)

        recovered = time.time()
        assert wait_until(lambda: runtime.camera.analysed > 0 and runtime.camera.capture.frames > 0)
        scanner.send_temperature(36.6)
        assert wait_until(lambda: entries_after(local, recovered), timeout=20), "no visitor decided after recovery"
        decided = entries_after(local, recovered)[0]
        assert decided.body_c == pytest.approx(36.6, abs=0.05)
        # the frames show no face: measured, and asked to face the camera (never let in without a face)
        assert (decided.outcome, decided.mask_class, decided.reasons) == ("remeasure", None, "no_face")
    finally:
        runtime.stop()
        scanner.stop()
        local.dispose()

"""Calibration, physical range and hot-spot selection (drivers/thermal/calibrate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from checkpoint.config import CalibrationConfig, ScannerConfig
from checkpoint.messages import Calibration, ThermalReading
from drivers.thermal.base import Fault, Sample
from drivers.thermal.calibrate import Calibrator
from drivers.thermal.registry import make_protocol


def calibrator(protocol="ascii", options=None, **calibration) -> Calibrator:
    cfg = ScannerConfig(protocol=protocol, options=options or {}, sensor_id="gate-1-ir",
                        calibration=CalibrationConfig(**calibration))
    return Calibrator(cfg, make_protocol(protocol, options))


def test_offset_calibration_keeps_raw_and_ambient():
    reading = calibrator(method="offset", offset_c=1.2).reading(Sample(object_c=35.4, ambient_c=28.0), t=5.0)
    assert reading == ThermalReading(t=5.0, body_c=36.6, object_c=35.4, ambient_c=28.0,
                                     calibration=Calibration("offset", 1.2), sensor_id="gate-1-ir", protocol="ascii")
    assert calibrator(method="none", offset_c=1.2).reading(Sample(object_c=35.4), 0).body_c == 35.4


def test_blackbody_from_second_sensor_corrects_drift():
    cal = calibrator(method="blackbody", offset_c=0.5, reference_c=35.0)
    first = cal.reading(Sample(object_c=36.0), 1.0)
    assert first.calibration.measured_reference_c is None and first.body_c == 36.5
    drifted = cal.reading(Sample(object_c=36.0, reference_c=34.6), 2.0)
    assert drifted.calibration == Calibration("blackbody", 0.5, 35.0, 34.6)
    assert drifted.body_c == pytest.approx(36.0 + 0.5 + 0.4)


def test_blackbody_region_of_an_array_frame():
    frame = np.full((24, 32), 27.0, dtype=np.float32)
    frame[0:2, 0:2] = 34.2  # blackbody seen by the array, held at 35.0
    frame[12, 16] = 35.9  # visitor's hottest spot
    cal = calibrator("mlx90640-text", method="blackbody", reference_c=35.0, reference_region=(0, 0, 2, 2))
    reading = cal.reading(Sample(frame=frame), 3.0)
    assert reading.object_c == pytest.approx(35.9)
    assert reading.calibration.measured_reference_c == pytest.approx(34.2)
    assert reading.body_c == pytest.approx(36.7)


def test_blackbody_is_not_taken_for_the_face_even_when_hottest():
    frame = np.full((24, 32), 27.0, dtype=np.float32)
    frame[10:12, 14:16] = 40.0  # blackbody inside the central window
    frame[14, 17] = 36.1
    cal = calibrator("mlx90640-text", method="blackbody", reference_c=40.0, reference_region=(14, 10, 2, 2))
    assert cal.reading(Sample(frame=frame), 0).object_c == pytest.approx(36.1)


def test_face_region_overrides_central_window_and_keep_frame():
    frame = np.full((24, 32), 27.0, dtype=np.float32)
    frame[12, 16] = 33.0  # centre
    frame[2, 2] = 36.8  # top-left corner: outside the central window
    cal = calibrator("mlx90640-text", {"keep_frame": True}, method="none")
    assert cal.reading(Sample(frame=frame), 0).object_c == pytest.approx(33.0)
    cal.set_face_region((0.0, 0.0, 0.25, 0.25))
    reading = cal.reading(Sample(frame=frame), 0)
    assert reading.object_c == pytest.approx(36.8) and reading.frame.shape == (24, 32)
    cal.set_face_region(None)
    assert cal.reading(Sample(frame=frame), 0).object_c == pytest.approx(33.0)
    assert calibrator("mlx90640-text").reading(Sample(frame=frame), 0).frame is None
    with pytest.raises(ValueError):
        cal.set_face_region((0.1, 0.1, 0.0, 0.2))


def test_hot_spot_skips_implausible_and_nan_pixels():
    frame = np.full((24, 32), 27.0, dtype=np.float32)
    frame[12, 16] = 600.0  # dead pixel beyond the physical range
    frame[12, 15] = np.nan
    frame[11, 16] = 35.7
    assert calibrator("mlx90640-text").reading(Sample(frame=frame), 0).object_c == pytest.approx(35.7)
    all_bad = np.full((24, 32), np.nan, dtype=np.float32)
    assert isinstance(calibrator("mlx90640-text").reading(Sample(frame=all_bad), 0), Fault)


def test_physical_range_and_presence_threshold():
    cal = calibrator(options={"min_c": -40, "max_c": 380})
    assert cal.reading(Sample(object_c=-273.0), 0).kind == "out_of_range"
    assert cal.reading(Sample(object_c=1000.0), 0).kind == "out_of_range"
    assert cal.reading(Sample(object_c=29.0), 0).object_c == 29.0  # physically fine: the body rule is the agent's
    present = calibrator(options={"report_min_c": 30.0})
    assert present.reading(Sample(object_c=26.0), 0) is None
    assert present.reading(Sample(object_c=36.0), 0).object_c == 36.0


def test_a_blackbody_out_of_tolerance_is_lost_not_a_correction():
    cal = calibrator(method="blackbody", offset_c=0.5, reference_c=35.0, reference_tolerance_c=1.5)
    assert cal.reading(Sample(object_c=36.0, reference_c=34.6), 1.0).body_c == pytest.approx(36.9)
    moved = cal.reading(Sample(object_c=36.0, reference_c=26.1), 2.0)  # it now sees the wall
    assert isinstance(moved, Fault) and moved.kind == "reference_lost" and "26.10" in moved.detail
    assert cal.measured_reference_c == pytest.approx(34.6)  # the lost value never becomes the correction
    frame = np.full((24, 32), 27.0, dtype=np.float32)
    frame[12, 16] = 35.9
    array = calibrator("mlx90640-text", method="blackbody", reference_c=35.0, reference_region=(0, 0, 2, 2))
    lost = array.reading(Sample(frame=frame), 3.0)  # the blackbody's pixels read the room: covered, or moved
    assert isinstance(lost, Fault) and lost.kind == "reference_lost"


def test_a_lost_blackbody_closes_the_gate_and_its_return_reopens_it(virtual, reader_for, collector):
    """Over a real pty: three frames with the blackbody out of tolerance put the scanner down (the gate
    closes); good frames bring it back."""
    device = virtual("ascii")
    pattern = r"obj=(?P<object>[-\d.]+) ref=(?P<reference>[-\d.]+)"
    reader_for(device.path, "ascii", {"pattern": pattern},
               calibration=CalibrationConfig(method="blackbody", reference_c=35.0))
    assert device.pty.wait_open(timeout=5)  # the reader has the port: nothing sent is lost
    device.send_raw(b"obj=36.10 ref=34.80\r\n")
    assert collector.wait_for(lambda: collector.readings_where(lambda r: r.object_c == pytest.approx(36.1)))
    assert collector.readings_where(lambda r: True)[-1].body_c == pytest.approx(36.3)
    for _ in range(3):
        device.send_raw(b"obj=36.10 ref=25.40\r\n")
    assert collector.wait_for(lambda: collector.health and collector.health[-1][0] == "down")
    assert "reference_lost" in collector.health[-1][1]
    assert len(collector.readings_where(lambda r: True)) == 1  # no reading was taken with the lost blackbody
    device.send_raw(b"obj=36.20 ref=35.10\r\n")
    assert collector.wait_for(lambda: collector.health[-1][0] == "ok")
    assert collector.readings_where(lambda r: True)[-1].body_c == pytest.approx(36.1)

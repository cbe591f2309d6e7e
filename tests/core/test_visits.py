"""The tracker and the agent on hand-made event streams (no hardware, no threads)."""

import pytest

from checkpoint import reasons as R
from checkpoint.agent import Agent
from checkpoint.config import load_settings
from checkpoint.messages import Box, ExitEvent, FaceQuality, MaskObservation, SensorStatus, ThermalReading
from checkpoint.smoothing import POSE_FLOOR, pose_weight, quality_weight, smooth
from checkpoint.visits import summarize_mask

T0 = 1_800_000_000.0
FACE = Box(200, 120, 150, 150)


class ListSink:
    def __init__(self):
        self.rows = []

    def submit(self, row):
        self.rows.append(row)


def agent(**overrides):
    return Agent(load_settings(environ={}, overrides=overrides), ListSink())


def faces(a, start, seconds, mask=0.95, fps=10):
    out = []
    for i in range(int(seconds * fps)):
        out += a.handle(MaskObservation(start + i / fps, FACE, {"mask": mask, "no_mask": 1 - mask}))
    return out


def reading(a, t, c):
    return a.handle(ThermalReading(t, c, c))


def run_until(a, t):
    out = []
    while (deadline := a.next_deadline()) is not None and deadline <= t:
        out += a.tick(deadline)
    return out + a.tick(t)


def test_face_then_reading_decides_on_the_reading():
    a = agent()
    assert faces(a, T0, 1.0) == []
    [entry] = reading(a, T0 + 1.0, 36.6)
    assert entry.outcome == "allowed" and entry.body_c == 36.6 and entry.mask_class == "mask"
    assert entry.decided_at.timestamp() == T0 + 1.0
    # the continuous stream of the same person adds nothing
    assert reading(a, T0 + 1.5, 36.7) == [] and reading(a, T0 + 2.0, 25.0) == []


def test_reading_without_face_waits_then_asks_to_face_the_camera():
    a = agent()
    assert reading(a, T0, 36.5) == []
    [entry] = run_until(a, T0 + 5)
    assert entry.outcome == "remeasure" and entry.reasons == R.NO_FACE
    assert entry.decided_at.timestamp() == T0 + 2.0  # face_wait_s


def test_face_without_reading_asks_to_measure():
    a = agent()
    out = faces(a, T0, 10)
    assert [e.reasons for e in out] == [R.NO_READING]
    assert out[0].decided_at.timestamp() == T0 + 8.0  # reading_wait_s


def test_remeasure_then_new_measurement_from_the_same_visitor():
    a = agent()
    faces(a, T0, 1.0)
    assert reading(a, T0 + 1.0, 32.5) == []  # too far: implausible, but present (>= 30)
    assert reading(a, T0 + 1.5, 32.8) == []  # a moment to come closer (face_wait_s)
    [first] = faces(a, T0 + 1.0, 2.5)  # the frame at 3.0 s ticks the tracker
    assert first.outcome == "remeasure" and first.reasons == R.IMPLAUSIBLE
    assert first.decided_at.timestamp() == T0 + 3.0 and first.readings == 2
    assert reading(a, T0 + 3.5, 33.0) == []  # still inside remeasure_s: the screen shows the ask
    faces(a, T0 + 3.5, 2.0)
    [second] = reading(a, T0 + 5.5, 36.4)
    assert second.outcome == "allowed" and second.readings == 1


def test_single_reading_scanner_gets_its_face_wait():
    a = agent()
    assert reading(a, T0, 36.5) == []
    assert run_until(a, T0 + 1.9) == []  # silence closed the measurement at 1.5 s
    [entry] = faces(a, T0 + 1.9, 0.6)
    assert entry.outcome == "allowed" and entry.mask_class == "mask"


def test_back_to_back_visitors_are_two_visits():
    a = agent()
    faces(a, T0, 1.0, mask=0.96)
    [one] = reading(a, T0 + 1.0, 36.5)
    reading(a, T0 + 1.5, 26.0)  # background between people
    faces(a, T0 + 1.6, 0.8, mask=0.03)
    [two] = reading(a, T0 + 2.5, 36.7)
    assert (one.outcome, two.outcome) == ("allowed", "denied")
    assert two.reasons == R.NO_MASK


def test_fever_confirmed_after_rest():
    a = agent()
    faces(a, T0, 1.0)
    [first] = reading(a, T0 + 1, 37.8)
    assert first.outcome == "remeasure" and first.reasons == R.FEVER_RETEST
    reading(a, T0 + 1.5, 25.0)
    faces(a, T0 + 400, 1.0)
    [second] = reading(a, T0 + 401, 37.7)
    assert second.outcome == "denied" and second.reasons == R.FEVER


def test_fever_not_confirmed_after_rest():
    a = agent()
    faces(a, T0, 1.0)
    reading(a, T0 + 1, 37.5)
    reading(a, T0 + 1.5, 25.0)
    faces(a, T0 + 400, 1.0)
    [second] = reading(a, T0 + 401, 36.8)
    assert second.outcome == "allowed"
    assert len(a.retests) == 0


def test_unrested_high_reading_is_asked_to_rest_again():
    a = agent()
    faces(a, T0, 1.0)
    reading(a, T0 + 1, 37.5)
    reading(a, T0 + 1.5, 25.0)
    faces(a, T0 + 60, 1.0)
    [again] = reading(a, T0 + 61, 37.6)
    assert again.reasons == R.FEVER_RETEST


def test_scanner_down_with_face_denies_quickly():
    a = agent()
    a.handle(SensorStatus(T0, "scanner", "down", "unplugged"))
    out = faces(a, T0 + 0.1, 1.0)
    assert [e.reasons for e in out] == [R.SCANNER_FAULT]
    assert out[0].outcome == "denied"


def test_camera_down_decides_without_waiting():
    a = agent()
    a.handle(SensorStatus(T0, "camera", "down", "no frames"))
    [entry] = reading(a, T0 + 1, 36.5)
    assert entry.reasons == R.CAMERA_FAULT


def test_capacity_counts_entries_minus_exits():
    a = agent(rules={"capacity": {"mode": "deny", "limit": 1}})
    faces(a, T0, 1.0)
    [one] = reading(a, T0 + 1, 36.5)
    reading(a, T0 + 1.5, 25.0)
    faces(a, T0 + 5, 1.0)
    [two] = reading(a, T0 + 6, 36.5)
    reading(a, T0 + 6.5, 25.0)
    a.handle(ExitEvent(T0 + 7))
    faces(a, T0 + 10, 1.0)
    [three] = reading(a, T0 + 11, 36.5)
    assert [e.outcome for e in (one, two, three)] == ["allowed", "denied", "allowed"]
    assert two.reasons == R.CAPACITY_FULL


def test_passer_by_glimpse_is_not_a_visit():
    a = agent()
    out = faces(a, T0, 0.2)  # 2 frames, fewer than smoothing_frames
    assert out + run_until(a, T0 + 20) == []


def posed(t, probs, yaw=None, roll=None, size=120.0):
    return MaskObservation(t, FACE, probs, quality=FaceQuality(size_px=size, blur=200.0, brightness=128.0,
                                                               yaw_deg=yaw, roll_deg=roll))


BARE = {"mask": 0.1, "no_mask": 0.9}
MASKED = {"mask": 0.9, "no_mask": 0.1}


def test_pose_weight_falls_smoothly_with_yaw_and_roll_to_a_floor():
    yaws = [pose_weight(posed(0, BARE, yaw=y)) for y in (0, 10, 20, 30, 45, 59, 60, 75, 90)]
    assert yaws[0] == 1.0
    assert all(a > b for a, b in zip(yaws[:7], yaws[1:7]))  # strictly falling up to 60 degrees
    assert yaws[1] > 0.95  # a slight turn barely matters
    assert yaws[6] == yaws[7] == yaws[8] == pytest.approx(POSE_FLOOR)
    assert pose_weight(posed(0, BARE, yaw=-30)) == pose_weight(posed(0, BARE, yaw=30))
    rolls = [pose_weight(posed(0, BARE, roll=r)) for r in (0, 15, 30, 45, 80)]
    assert all(a > b for a, b in zip(rolls[:4], rolls[1:4])) and rolls[3] == rolls[4] == pytest.approx(POSE_FLOOR)
    both = pose_weight(posed(0, BARE, yaw=30, roll=20))
    assert both < min(pose_weight(posed(0, BARE, yaw=30)), pose_weight(posed(0, BARE, roll=20)))
    assert pose_weight(posed(0, BARE, yaw=90, roll=90)) == pytest.approx(POSE_FLOOR)


def test_frames_without_a_pose_keep_their_weight():
    assert pose_weight(MaskObservation(0, FACE, BARE)) == 1.0
    unposed = posed(0, BARE)
    assert pose_weight(unposed) == 1.0
    assert smooth([unposed, posed(0, MASKED)]) == pytest.approx({"mask": 0.5, "no_mask": 0.5})
    assert quality_weight(unposed) == quality_weight(posed(0, BARE, yaw=50))  # the pose is a separate factor


def test_turned_frames_weigh_less_in_the_smoothing():
    # A bare face seen frontally outweighs "mask" read off frames of the head turned away.
    probs = smooth([posed(0, BARE, yaw=5), posed(0.1, MASKED, yaw=65), posed(0.2, MASKED, yaw=-70, roll=20)])
    assert probs["no_mask"] > 0.8
    tilted = smooth([posed(0, BARE, roll=50), posed(0.1, MASKED, roll=0)])
    assert tilted["mask"] > 0.8
    level = smooth([posed(0, BARE, yaw=0), posed(0.1, MASKED, yaw=0)])
    assert level == pytest.approx({"mask": 0.5, "no_mask": 0.5})


def test_summary_keeps_each_frames_yaw():
    frames = [posed(0, MASKED, yaw=-70), posed(0.1, MASKED, yaw=20), posed(0.2, MASKED), posed(0.3, MASKED, yaw=80)]
    summary = summarize_mask(frames, 3)
    assert summary.frames == 3 and summary.yaw_deg == (20.0, None, 80.0)
    assert summary.frontal_frames(45) == 2 and summary.frontal_frames(10) == 1
    assert summarize_mask([MaskObservation(0, FACE, MASKED)], 5).yaw_deg == ()


def test_a_visitor_seen_only_in_profile_is_asked_to_face_the_camera():
    a = agent()
    for i in range(10):
        a.handle(posed(T0 + i / 10, {"mask": 0.9, "no_mask": 0.05, "mask_incorrect": 0.05}, yaw=60 + i))
    [entry] = reading(a, T0 + 1.0, 36.6)
    assert entry.outcome == "remeasure" and entry.reasons == R.FACE_TURNED
    assert entry.mask_class == "uncertain" and entry.face_seen


def test_turning_to_the_camera_lets_the_mask_be_judged():
    a = agent()
    for i in range(10):
        a.handle(posed(T0 + i / 10, BARE, yaw=70 if i < 8 else 10))
    [entry] = reading(a, T0 + 1.0, 36.6)
    assert entry.outcome == "denied" and entry.reasons == R.NO_MASK and entry.mask_class == "no_mask"


def test_an_incorrectly_worn_mask_is_denied_with_its_own_reason():
    a = agent()
    for i in range(10):
        a.handle(MaskObservation(T0 + i / 10, FACE, {"mask": 0.15, "no_mask": 0.1, "mask_incorrect": 0.75}))
    [entry] = reading(a, T0 + 1.0, 36.6)
    assert (entry.outcome, entry.reasons, entry.primary_reason) == ("denied", R.MASK_INCORRECT, R.MASK_INCORRECT)
    assert entry.mask_class == "mask_incorrect" and entry.mask_confidence == 0.75


def test_an_incorrect_mask_let_in_when_configured_is_flagged():
    a = agent(rules={"mask": {"incorrect_is_no_mask": False}})
    for i in range(10):
        a.handle(MaskObservation(T0 + i / 10, FACE, {"mask": 0.15, "no_mask": 0.1, "mask_incorrect": 0.75}))
    [entry] = reading(a, T0 + 1.0, 36.6)
    assert entry.outcome == "allowed" and entry.flagged and entry.reasons == R.MASK_INCORRECT

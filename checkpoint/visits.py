"""Visit tracking: which readings and camera frames belong to one visitor.

A visitor is seen by the scanner as one *measurement*: a run of readings at
or above the presence temperature (a continuous sensor reads the background
below it), ended by a reading below it or by silence. The camera adds the
mask frames around that measurement. The tracker decides *when* a visit is
complete; what to decide is ``checkpoint.policy``'s job.

Cases: a reading with no face (wait ``face_wait_s``, then mask unknown); a face
with no reading (after ``reading_wait_s``: ask to measure); a re-measure (after
a ``remeasure`` decision, later readings form a new measurement); back-to-back
visitors (each measurement is its own visit; frames before a decision never
count for the next one). The tracker is driven by events and ``tick(t)``, and
tells when it next needs a tick, so replay is exact.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from checkpoint.config import Settings
from checkpoint.health import DOWN, OK
from checkpoint.messages import MaskObservation, SensorStatus, ThermalReading
from checkpoint.policy import MaskSummary, Visit, is_plausible
from checkpoint.smoothing import smooth


@dataclass
class _Measurement:
    started_t: float
    last_t: float
    readings: list[ThermalReading] = field(default_factory=list)
    decided: bool = False
    closed_t: Optional[float] = None  # no more readings belong to it (background or silence)
    remeasure: bool = False  # decided "re-measure": later readings start a new measurement


@dataclass
class _FacePresence:
    started_t: float
    last_face_t: float
    frames: int = 1
    decided: bool = False


def summarize_mask(observations: list[MaskObservation], frames: int) -> Optional[MaskSummary]:
    """Class probabilities over the last ``frames`` frames that show a face, weighted by image quality and
    head pose, with each frame's |yaw| (so the policy can tell a visitor seen only in profile)."""
    with_face = [o for o in observations if o.box is not None and o.probs][-frames:]
    probs = smooth(with_face)
    if not probs:
        return None
    yaws = tuple(None if o.quality is None or o.quality.yaw_deg is None else round(abs(o.quality.yaw_deg), 1)
                 for o in with_face)
    return MaskSummary(probs={k: round(v, 4) for k, v in sorted(probs.items())}, frames=len(with_face),
                       yaw_deg=yaws if any(y is not None for y in yaws) else ())


class VisitTracker:
    def __init__(self, settings: Settings) -> None:
        self._visits = settings.visits
        self._rules = settings.rules
        self._min_face_px = settings.mask.min_face_px
        self._frames = settings.mask.smoothing_frames
        self._camera_enabled = settings.camera.enabled
        self._scanner_enabled = settings.scanner.enabled
        self._observations: deque[MaskObservation] = deque()
        self._measurement: Optional[_Measurement] = None
        self._face: Optional[_FacePresence] = None
        self._frames_after_t = float("-inf")  # frames before the last decision belong to earlier visitors
        self._hold_until_t = float("-inf")
        self.scanner_state = OK
        self.camera_state = OK

    # -- events --------------------------------------------------------------

    def on_status(self, status: SensorStatus) -> list[Visit]:
        if status.component == "scanner":
            self.scanner_state = status.state
        elif status.component == "camera":
            self.camera_state = status.state
        return self.tick(status.t)

    def on_observation(self, observation: MaskObservation) -> list[Visit]:
        t = observation.t
        self._observations.append(observation)
        horizon = t - (self._visits.face_lookback_s + self._visits.reading_wait_s + self._visits.gap_s)
        while self._observations and self._observations[0].t < horizon:
            self._observations.popleft()
        if self._is_visitor_face(observation):
            if self._face is None or t - self._face.last_face_t > self._visits.gap_s:
                self._face = _FacePresence(started_t=t, last_face_t=t)
            else:
                self._face.last_face_t = t
                self._face.frames += 1
        return self.tick(t)

    def on_reading(self, reading: ThermalReading) -> list[Visit]:
        t = reading.t
        done = self.tick(t)
        m = self._measurement
        present = reading.body_c >= self._visits.presence_c
        if m is not None and m.closed_t is not None and present:
            if not m.decided:
                done.append(self._decide_measurement(m, t))  # a new measurement starts: settle the last one
            m = self._measurement = None
        if not present:
            if m is not None and m.closed_t is None:
                m.closed_t = t
            return done + self.tick(t)
        if t < self._hold_until_t:  # the screen is showing "measure again": let the visitor read it
            if m is not None and m.closed_t is None:
                m.last_t = t
            return done
        if m is None or (m.decided and m.remeasure):
            m = self._measurement = _Measurement(started_t=t, last_t=t)  # a visitor, or the re-measure
        m.last_t = t
        if not m.decided:
            m.readings.append(reading)
        return done + self.tick(t)

    def tick(self, t: float) -> list[Visit]:
        """Close whatever is complete at time ``t``."""
        done: list[Visit] = []
        m = self._measurement
        if m is not None:
            if m.closed_t is None and t - m.last_t > self._visits.episode_gap_s:
                m.closed_t = m.last_t + self._visits.episode_gap_s
            if not m.decided and self._measurement_ready(m, t):
                done.append(self._decide_measurement(m, t))
            if m.closed_t is not None and m.decided:
                self._measurement = None
        face = self._face
        if face is not None and self._measurement is None:
            if t - face.last_face_t > self._visits.gap_s:
                if not face.decided and face.frames >= self._frames:
                    done.append(self._decide_face_only(face, t))  # walked past without measuring
                self._face = None
            elif not face.decided and (t - face.started_t >= self._visits.reading_wait_s
                                       or (self.scanner_state == DOWN and face.frames >= self._frames)):
                done.append(self._decide_face_only(face, t))  # no reading, or no scanner to give one
        return done

    def next_deadline(self) -> Optional[float]:
        """The next time at which ``tick`` may close something (for replay)."""
        times = []
        m = self._measurement
        if m is not None:
            if m.closed_t is None:
                times.append(m.last_t + self._visits.episode_gap_s + 1e-6)
            if not m.decided:
                first = self._first_plausible_t(m)
                times.append((first if first is not None else m.started_t) + self._visits.face_wait_s)
                if first is None and m.closed_t is not None:
                    times.append(m.closed_t)
        face = self._face
        if face is not None and self._measurement is None:
            times.append(face.last_face_t + self._visits.gap_s + 1e-6)
            if not face.decided:
                times.append(face.started_t + self._visits.reading_wait_s)
        return min(times) if times else None

    def after_decision(self, visit: Visit, outcome: str) -> None:
        """Tell the tracker what was decided, so a re-measure reopens the measurement."""
        if outcome != "remeasure":
            return
        self._hold_until_t = visit.decided_t + self._visits.remeasure_s
        if self._measurement is not None and self._measurement.decided:
            self._measurement.remeasure = True

    # -- internals ------------------------------------------------------------

    def _is_visitor_face(self, observation: MaskObservation) -> bool:
        if observation.box is None:
            return False
        return min(observation.box.w, observation.box.h) >= self._min_face_px

    def _first_plausible_t(self, m: _Measurement) -> Optional[float]:
        for reading in m.readings:
            if is_plausible(reading.body_c, self._rules):
                return reading.t
        return None

    def _frames_for(self, start_t: float, t: float) -> list[MaskObservation]:
        since = max(start_t - self._visits.face_lookback_s, self._frames_after_t)
        return [o for o in self._observations if since < o.t <= t]

    def _camera_ready(self, m: _Measurement, t: float) -> bool:
        if not self._camera_enabled or self.camera_state == DOWN:
            return True
        faces = [o for o in self._frames_for(m.started_t, t) if self._is_visitor_face(o)]
        return len(faces) >= self._frames

    def _measurement_ready(self, m: _Measurement, t: float) -> bool:
        plausible = [r for r in m.readings if is_plausible(r.body_c, self._rules)]
        if plausible:
            enough = len(plausible) >= self._visits.settle_readings
            waited = t >= plausible[0].t + self._visits.face_wait_s
            return (enough and self._camera_ready(m, t)) or waited
        # only implausible readings: give the visitor a moment to come closer
        return m.closed_t is not None or t >= m.started_t + self._visits.face_wait_s

    def _visit(self, started_t: float, t: float, readings: tuple[ThermalReading, ...]) -> Visit:
        frames = [o for o in self._frames_for(started_t, t) if self._is_visitor_face(o)]
        images = [o.face_jpeg for o in frames if o.face_jpeg]
        visit = Visit(
            started_t=started_t,
            decided_t=t,
            readings=readings,
            mask=summarize_mask(frames, self._frames),
            scanner_down=self.scanner_state == DOWN,
            camera_down=self.camera_state == DOWN,
            camera_enabled=self._camera_enabled,
            scanner_enabled=self._scanner_enabled,
            face_jpeg=images[-1] if images else None,
        )
        self._frames_after_t = t
        return visit

    def _decide_measurement(self, m: _Measurement, t: float) -> Visit:
        m.decided = True
        if self._face is not None:
            self._face.decided = True  # the face's visitor has been measured
        return self._visit(m.started_t, t, tuple(m.readings))

    def _decide_face_only(self, face: _FacePresence, t: float) -> Visit:
        face.decided = True
        return self._visit(face.started_t, t, ())

"""The agent's core: events in, decisions out, rows to the recorder.

Single-threaded by design: the runtime (or replay) feeds events in time order
and calls ``tick``; everything here is deterministic for a given event stream.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Optional, Protocol, Union

from checkpoint import reasons as R
from checkpoint.config import Settings
from checkpoint.door import door_command
from checkpoint.entries import build_entry, build_exit, local_date_hour
from checkpoint.faces import FaceStore
from checkpoint.messages import ExitEvent, MaskObservation, SensorStatus, ThermalReading
from checkpoint.models import ALLOWED, Entry, Exit
from checkpoint.policy import Context, Decision, Visit, choose_reading, decide, is_high, is_plausible, rules_in_force
from checkpoint.retest import RetestBook
from checkpoint.visits import VisitTracker

log = logging.getLogger(__name__)

Event = Union[ThermalReading, MaskObservation, SensorStatus, ExitEvent]


class RowSink(Protocol):
    def submit(self, row: Entry | Exit) -> None: ...


class Occupancy:
    """People inside today: allowed entries minus exits, starting afresh each local day."""

    def __init__(self, zone, day: Optional[str] = None, inside: int = 0) -> None:
        self._zone = zone
        self.day = day
        self.inside = inside

    def _roll(self, t: float) -> None:
        day, _ = local_date_hour(t, self._zone)
        if day != self.day:
            self.day, self.inside = day, 0

    def at(self, t: float) -> int:
        self._roll(t)
        return self.inside

    def entered(self, t: float) -> None:
        self._roll(t)
        self.inside += 1

    def left(self, t: float) -> None:
        self._roll(t)
        self.inside = max(self.inside - 1, 0)


class Agent:
    def __init__(self, settings: Settings, sink: RowSink, occupancy: Optional[Occupancy] = None,
                 face_store: Optional[FaceStore] = None) -> None:
        self.settings = settings
        self._sink = sink
        self._zone = settings.zone
        self._rules_json = rules_in_force(settings.rules)
        self.tracker = VisitTracker(settings)
        self.retests = RetestBook(settings.rules.fever)
        self.occupancy = occupancy or Occupancy(self._zone)
        self._faces = face_store if settings.privacy.store_face_images else None
        self._listeners: list[Callable[[Entry, Decision], None]] = []
        self.changes = 0  # entries and exits submitted: an occupancy read from the log before one is stale

    def on_decision(self, listener: Callable[[Entry, Decision], None]) -> None:
        self._listeners.append(listener)

    def handle(self, event: Event) -> list[Entry]:
        if isinstance(event, ThermalReading):
            visits = self.tracker.on_reading(event)
        elif isinstance(event, MaskObservation):
            visits = self.tracker.on_observation(event)
        elif isinstance(event, SensorStatus):
            visits = self.tracker.on_status(event)
        elif isinstance(event, ExitEvent):
            self.record_exit(event.t, event.source)
            visits = self.tracker.tick(event.t)
        else:
            raise TypeError(f"not an agent event: {type(event).__name__}")
        return [self._decide(visit) for visit in visits]

    def tick(self, t: float) -> list[Entry]:
        return [self._decide(visit) for visit in self.tracker.tick(t)]

    def next_deadline(self) -> Optional[float]:
        return self.tracker.next_deadline()

    def record_exit(self, t: float, source: str, by_user: Optional[str] = None) -> Exit:
        self.occupancy.left(t)
        row = build_exit(self.settings.gate.id, self._zone, t, source, by_user)
        self._sink.submit(row)
        self.changes += 1
        return row

    def _decide(self, visit: Visit) -> Entry:
        rules = self.settings.rules
        t = visit.decided_t
        reading = choose_reading(visit.readings, rules)
        plausible = reading is not None and is_plausible(reading.body_c, rules)
        high = plausible and reading is not None and is_high(reading.body_c, rules)
        if high and rules.fever.retest:
            visit = replace(visit, is_retest=self.retests.consume(t))
        decision = decide(visit, Context(occupancy=self.occupancy.at(t)), rules, self._rules_json)
        if R.FEVER_RETEST in decision.reasons:
            self.retests.book(t)
        elif plausible and not high and self.retests.rested(t):
            self.retests.consume(t)  # the re-test came back normal: fever not confirmed
        if decision.outcome == ALLOWED:
            self.occupancy.entered(t)
        entry = build_entry(self.settings.gate.id, self._zone, visit, decision)
        entry.door = door_command(entry.outcome, self.settings.door.mode)  # carried out by the door worker
        if self._faces is not None and visit.face_jpeg:
            try:
                entry.face_image = self._faces.save(entry.local_date, entry.uid, visit.face_jpeg)
            except OSError as exc:  # the entry matters more than its picture
                log.error("cannot store the face image: %s", exc)
        self._sink.submit(entry)
        self.tracker.after_decision(visit, decision.outcome)
        self.changes += 1
        log.info("decision %s %s%s temp=%s mask=%s", entry.uid[:8], decision.outcome,
                 f" ({entry.reasons})" if entry.reasons else "",
                 entry.body_c, entry.mask_class)
        for listener in self._listeners:  # the door, events out: the entry is recorded whatever they do
            try:
                listener(entry, decision)
            except Exception:
                log.exception("a decision listener failed on entry %s (it is recorded)", entry.uid)
        return entry

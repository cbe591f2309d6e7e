"""The live agent: drivers feed a queue, one thread decides, the recorder writes.

Threads: each driver owns its own (scanner reader, camera watcher); the
decision thread drains the event queue and ticks the tracker; the heartbeat
thread publishes health and backlog for the screen; the occupancy thread
re-reads occupancy from the log (exits recorded on the screen; with a building
scope, the other gates too). No exception from a driver reaches the decision
thread: drivers report faults through health.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session

from checkpoint.agent import Agent, Event, Occupancy
from checkpoint.calibration import calibration_health
from checkpoint.calibration import latest as latest_calibration
from checkpoint.clock import Clock, LiveClock
from checkpoint.config import Settings
from checkpoint.counts import occupancy
from checkpoint.db import open_database
from checkpoint.entries import local_date_hour
from checkpoint.faces import FaceStore
from checkpoint.forwarder import Forwarder
from checkpoint.health import (
    ComponentHealth,
    ComponentReporter,
    HealthRegistry,
    StatusFile,
    short_error,
    status_document,
    status_path,
)
from checkpoint.journal import Journal, journal_path
from checkpoint.messages import MaskObservation, SensorStatus
from checkpoint.reasons import split_codes, voice_key
from checkpoint.recorder import Recorder, gate_status
from checkpoint.retention import RetentionJob
from checkpoint.simulated import CAMERA, DOOR, SCANNER, simulated_devices

if TYPE_CHECKING:
    from checkpoint.door import DoorWorker
    from checkpoint.door_overrides import OverrideWatcher
    from checkpoint.events_out import EventsOut
    from drivers.speaker import Speaker
    from drivers.thermal.reader import ScannerReader
    from drivers.vision import CameraWatcher

log = logging.getLogger(__name__)
SENSORS = ("scanner", "camera")


class AgentRuntime:
    def __init__(self, settings: Settings, clock: Optional[Clock] = None, engine: Optional[Engine] = None,
                 heartbeat_s: float = 1.0, simulated: Optional[dict[str, str]] = None) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.engine = engine
        self.health = HealthRegistry()
        self.heartbeat_s = heartbeat_s
        self._queue: "queue.Queue[Event | _OccupancyRefresh]" = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.scanner: Optional[ScannerReader] = None
        self.camera: Optional[CameraWatcher] = None
        self._simulated_camera: Optional[ComponentReporter] = None
        # software stand-ins, marked in health for the screens (the demo names its own)
        self.simulated = simulated_devices(settings) if simulated is None else simulated
        self.recorder: Optional[Recorder] = None
        self.forwarder: Optional[Forwarder] = None
        self.agent: Optional[Agent] = None
        self.door: Optional[DoorWorker] = None  # when [door] mode is not off
        self._door_watch: Optional[OverrideWatcher] = None
        self.events: Optional[EventsOut] = None  # when [mqtt] or [webhooks] is enabled
        self.speaker: Optional[Speaker] = None  # when [visitor] speaker is on
        self.started_at: Optional[datetime] = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "AgentRuntime":
        settings = self.settings
        if self.engine is None:
            self.engine = open_database(settings.database_url)
        now = self.clock.now()
        self.started_at = datetime.fromtimestamp(now, tz=timezone.utc)
        journal = Journal(journal_path(settings.data_path, settings.gate.id))
        # the agent's own view for the screens on this machine, even when the log cannot be written
        self._status_file = StatusFile(status_path(settings.data_path, settings.gate.id))
        privacy = settings.privacy
        retention = RetentionJob(settings.gate.id, settings.zone, privacy.entry_retention_days,
                                 forwarded_only=bool(settings.database.central_url)) \
            if privacy.entry_retention_days else None
        self.recorder = Recorder(self.engine, self.health.reporter("database"), clock=self.clock.now,
                                 journal=journal, journal_reporter=self.health.reporter("journal"),
                                 retention=retention, store_temperatures=privacy.store_temperatures).start()
        if self.recorder.backlog:  # rows a crashed run left in the journal: count them in today's occupancy
            self.recorder.flush(timeout=5.0)
        if settings.database.central_url:
            database = settings.database
            self.forwarder = Forwarder(self.engine, database.central_url, self.health.reporter("central"),
                                       clock=self.clock.now, batch=database.forward_batch,
                                       connect_timeout_s=database.central_connect_timeout_s,
                                       statement_timeout_s=database.central_statement_timeout_s,
                                       slow_s=database.central_slow_s).start()
            forwarder = self.forwarder
            self.recorder.on_committed(lambda rows: forwarder.kick())
        day, _ = local_date_hour(now, settings.zone)
        self.faces = FaceStore(settings.data_path) if settings.privacy.store_face_images else None
        inside = self._occupancy_in_log(day)
        if inside is None:  # e.g. the central database unreachable at start: at least this gate's own visitors
            inside = self._local_occupancy(day, settings.gate.id) or 0
        self.agent = Agent(settings, self.recorder, Occupancy(settings.zone, day, inside), face_store=self.faces)
        self._last_purge_day: Optional[str] = None
        self.health.on_change(self._on_health_change)
        self._start_door()
        self._start_events()
        self._start_speaker()
        self._start_scanner()
        self._start_camera()
        self._spawn(self._decide_loop, "decisions")
        self._spawn(self._heartbeat_loop, "heartbeat")
        self._spawn(self._occupancy_loop, "occupancy")
        log.info("agent for gate %s started (database %s)", settings.gate.id,
                 self.engine.url.render_as_string(hide_password=True))
        return self

    def stop(self) -> None:
        for device in (self.scanner, self.camera):  # first the sources, so nothing new arrives ...
            if device is not None:
                device.stop()
        self._stop.set()  # ... then the decision thread handles what is queued and stops
        for thread in self._threads:
            thread.join(timeout=5)
        self._stop_door()  # after the decisions: the door carries out what they asked, then locks
        if self.speaker is not None:
            self.speaker.stop()
        if self.recorder is not None:
            self._publish_status()
            self.recorder.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        if self.events is not None:  # after the recorder: its last rows go out too, if the broker answers
            self.events.stop()
        log.info("agent stopped")

    def put(self, event: Event | _OccupancyRefresh) -> None:
        """Hand an event to the decision thread (any thread may call this)."""
        self._queue.put(event)

    # -- parts -------------------------------------------------------------------

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_scanner(self) -> None:
        if not self.settings.scanner.enabled:
            return
        from drivers.thermal import open_scanner

        self.scanner = open_scanner(self.settings.scanner, self.clock,
                                    self.health.reporter("scanner", simulated=SCANNER in self.simulated), self.put)
        self.scanner.start()
        calibration = self.settings.scanner.calibration  # the health panel's "calibrated 12 days ago"
        state, message = calibration_health(latest_calibration(self.settings.data_path), calibration.offset_c,
                                            calibration.method, datetime.now(timezone.utc))
        reporter = self.health.reporter("calibration")
        (reporter.ok if state == "ok" else reporter.degraded)(self.clock.now(), message)

    def _start_camera(self) -> None:
        camera = self.settings.camera
        if not camera.enabled:
            return
        reporter = self.health.reporter("camera", simulated=CAMERA in self.simulated)
        if camera.source == "simulated":
            self._simulated_camera = reporter
            reporter.ok(self.clock.now(), "simulated camera")
            return  # observations arrive through put() from the simulator
        from drivers.vision import CameraWatcher

        self.camera = CameraWatcher(camera, self.settings.mask, self.clock, reporter, self.put,
                                    keep_faces=self.settings.privacy.store_face_images)
        self.camera.start()

    def _start_door(self) -> None:
        """The door worker and the override watcher ([door]; off: the door is not driven)."""
        door = self.settings.door
        if door.mode == "off":
            return
        from checkpoint.door import DoorWorker
        from checkpoint.door_overrides import OverrideWatcher
        from drivers.door import open_relay

        assert self.agent is not None and self.engine is not None  # start() made them
        self.door = DoorWorker(door, open_relay(door.relay, door.open_s),
                               self.health.reporter("door", simulated=DOOR in self.simulated),
                               clock=self.clock.now).start()
        worker = self.door
        self.agent.on_decision(lambda entry, _decision: worker.decided(entry.uid, entry.outcome,
                                                                       entry.decided_at.timestamp()))
        if door.override_within_s > 0:
            engines = [self.engine]
            if self.settings.database.central_url:  # the central web app's overrides
                from checkpoint.forwarder import central_engine

                database = self.settings.database
                engines.append(central_engine(database.central_url, database.central_connect_timeout_s,
                                              database.central_statement_timeout_s))
            self._door_watch = OverrideWatcher(
                engines, self.settings.gate.id,
                lambda uid, outcome: worker.overridden(uid, outcome, self.clock.now())).start()

    def _start_events(self) -> None:
        """Events out ([mqtt], [webhooks]; off by default): read from the local log on their own threads."""
        settings = self.settings
        if not (settings.mqtt.enabled or settings.webhooks.enabled):
            return
        from checkpoint.events_out import EventsOut

        agent = self.agent
        assert agent is not None and self.recorder is not None  # start() made them
        self.events = EventsOut(settings, self.engine, self.health, clock=self.clock.now,
                                occupancy=lambda: agent.occupancy.inside, door=self.door)
        self.recorder.on_committed(self.events.kick)
        self.health.on_change(self.events.health_changed)
        agent.on_decision(self.events.decided)  # supervisor alerts ([alerts])
        self.events.start()

    def _start_speaker(self) -> None:
        """The gate's own speaker ([visitor] speaker): each decision's prompt, the visitor screen's recordings."""
        visitor = self.settings.visitor
        if not visitor.speaker:
            return
        from drivers.speaker import Speaker
        from web.voice import prompt_path

        languages = ("id", "en") if visitor.voice_language == "both" else (visitor.voice_language,)
        speaker = Speaker(visitor.speaker_command, lambda key: [prompt_path(key, lang) for lang in languages],
                          self.health.reporter("speaker"), self.clock.now).start()
        self.speaker = speaker
        assert self.agent is not None  # start() made it
        self.agent.on_decision(lambda entry, _decision: speaker.say(
            voice_key(entry.outcome, split_codes(entry.reasons or ""))))

    def _stop_door(self) -> None:
        if self._door_watch is not None:
            self._door_watch.stop()
            for engine in self._door_watch.engines[1:]:
                engine.dispose()
        if self.door is not None:
            self.door.stop()

    def _on_health_change(self, component: ComponentHealth) -> None:
        if self.door is not None and component.name in SENSORS:
            self.door.sensor_health(component.state, self.clock.now())
        if component.name in SENSORS:
            self.put(SensorStatus(self.clock.now(), component.name, component.state, component.message))

    def _decide_loop(self) -> None:
        assert self.agent is not None  # start() made it before this thread
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                event = self._queue.get(timeout=0.05)
            except queue.Empty:
                event = None
            try:
                if isinstance(event, _OccupancyRefresh):
                    event.apply(self.agent)
                elif event is not None:
                    if self._simulated_camera is not None and isinstance(event, MaskObservation):
                        self._simulated_camera.ok(event.t, "simulated camera")
                    self.agent.handle(event)
                self.agent.tick(self.clock.now())
            except Exception:  # a bad event must not stop the gate
                log.exception("failed to process %r", event)

    def _occupancy_in_log(self, day: str) -> Optional[int]:
        """People inside now, from the log: this gate's visitors, or with
        ``rules.capacity.scope = "building"`` every gate's. With a central
        database it is read there (with exits and overrides entered on the
        central web app) plus this gate's outbox. None when it cannot be read:
        the agent then keeps its own running count."""
        gate_id = None if self.settings.rules.capacity.scope == "building" else self.settings.gate.id
        if self.forwarder is None:
            return self._local_occupancy(day, gate_id)
        try:
            return self.forwarder.occupancy(day, gate_id)
        except Exception as exc:  # the gate runs even when the log cannot be read
            log.warning("cannot read occupancy from the central log: %s", short_error(exc))
            return None

    def _local_occupancy(self, day: str, gate_id: Optional[str]) -> Optional[int]:
        try:
            with Session(self.engine) as session:
                return occupancy(session, day, gate_id)
        except Exception as exc:  # the gate runs even when the log cannot be read
            log.warning("cannot read occupancy from the log: %s", short_error(exc))
            return None

    def _publish_status(self) -> None:
        assert self.engine is not None and self.recorder is not None  # start() made them
        gate = self.settings.gate
        now = self.clock.now()
        components, backlog = self.health.snapshot(now), self.backlog()
        capacity = self.settings.rules.capacity
        status = gate_status(
            gate.id, gate.name, gate.timezone, components, backlog,
            capacity.limit, self.started_at, now, capacity.scope,
        )
        self._status_file.write(status_document(
            gate.id, gate.name, gate.timezone, components, backlog, capacity.limit, capacity.scope,
            self.engine.url.render_as_string(hide_password=True), now,
            self.started_at.timestamp() if self.started_at else None))
        if self.forwarder is not None:
            self.forwarder.publish_status(status)
        self.recorder.publish_status(status)

    def backlog(self) -> int:
        backlog = self.recorder.backlog if self.recorder else 0
        return backlog + (self.forwarder.pending() if self.forwarder else 0)

    def _purge_faces(self, day: str) -> None:
        if self.faces is None or self._last_purge_day == day:
            return
        self._last_purge_day = day
        try:
            self.faces.purge(self.engine, self.settings.privacy.retention_days, date.fromisoformat(day))
        except Exception as exc:
            log.error("face image purge failed: %s", exc)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self._publish_status()
            self._purge_faces(local_date_hour(self.clock.now(), self.settings.zone)[0])

    def _occupancy_loop(self) -> None:
        """Re-read occupancy from the log (exits recorded on the screens, other
        gates) in its own thread: a slow central database must not hold up the
        heartbeat."""
        assert self.agent is not None and self.recorder is not None  # start() made them before this thread
        while not self._stop.wait(self.heartbeat_s):
            changes = self.agent.changes  # before the backlog check: the agent submits, then counts
            if self.recorder.backlog == 0:
                day, _ = local_date_hour(self.clock.now(), self.settings.zone)
                inside = self._occupancy_in_log(day)
                if inside is not None:
                    self.put(_OccupancyRefresh(day, inside, changes))


class _OccupancyRefresh:
    """Occupancy re-read from the log (exits are recorded on the screen)."""

    def __init__(self, day: str, inside: int, changes: int) -> None:
        self.day, self.inside, self.changes = day, inside, changes

    def apply(self, agent: Agent) -> None:
        if agent.changes == self.changes and agent.occupancy.day == self.day:
            agent.occupancy.inside = self.inside  # no decision since the read: the log is current

"""Events out: the gate's entries, overrides, exits, door actuations and health changes to other systems.

Two sinks, each off by default and each on its own thread (docs/events.md):

- ``[mqtt]``: JSON on ``<prefix>/<gate>/<kind>`` at QoS 1, a retained gate
  state, a last will "offline", Home Assistant discovery (:mod:`.mqtt`);
- ``[webhooks]``: an HTTP POST of the same JSON, signed with HMAC-SHA256,
  retried with backoff, dead letters counted (:mod:`.webhook`).

The local log is the outbox (:mod:`.outbox`): rows are read after each
sink's cursor, so a broker or receiver that is down, slow or gone never
holds up a decision, and nothing is lost across an outage or a restart.
Door actuations, health changes and supervisor alerts (``[alerts]``,
:mod:`checkpoint.alerts`) are not in the log: they are handed to the sinks
in memory (the gate state, retained, says the latest).

:class:`EventsOut` is what the runtime holds: ``kick()`` after the
recorder's commits, ``health_changed`` as a health listener, ``decided`` for each decision, ``stop()``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from sqlalchemy.exc import SQLAlchemyError

from checkpoint.alerts import AlertWatch
from checkpoint.events_out.outbox import Outbox
from checkpoint.events_out.payloads import alert_event, door_event, health_event, utc
from checkpoint.events_out.sink import Sink
from checkpoint.events_out.state import GateState
from checkpoint.health import short_error

log = logging.getLogger(__name__)

DOOR_POLL_S = 0.2


class EventsOut:
    def __init__(self, settings, engine, health, clock: Callable[[], float] = time.time,
                 occupancy: Optional[Callable[[], Optional[int]]] = None, door=None, poll_s: float = 0.5,
                 retry_initial_s: float = 0.2, gap_wait_s: float = 2.0) -> None:
        self.settings, self.engine, self.health, self.clock = settings, engine, health, clock
        self.door = door
        self.sinks: list[Sink] = []
        self.mqtt = self.webhook = None
        gate = settings.gate.id
        common = {"clock": clock, "poll_s": poll_s, "retry_initial_s": retry_initial_s}
        if settings.mqtt.enabled:
            from checkpoint.events_out.mqtt import MqttSink

            state = GateState(engine, settings, health, occupancy, (lambda: door.state) if door else None, clock)
            self.mqtt = MqttSink(Outbox(engine, gate, "mqtt", settings.mqtt.batch, gap_wait_s, clock=clock),
                                 health.reporter("mqtt"), settings.mqtt, settings, state,
                                 door_driven=door is not None, **common)
            self.sinks.append(self.mqtt)
        if settings.webhooks.enabled:
            from checkpoint.events_out.webhook import WebhookSink, dead_letter_path

            self.webhook = WebhookSink(Outbox(engine, gate, "webhook", 100, gap_wait_s, clock=clock),
                                       health.reporter("webhook"), settings.webhooks, gate,
                                       dead_letter_path(settings.data_path, gate), **common)
            self.sinks.append(self.webhook)
        self._stop = threading.Event()
        self._door_thread: Optional[threading.Thread] = None
        self._last_actuation = None
        self.alerts = AlertWatch(settings.alerts, gate, settings.privacy.store_temperatures) \
            if settings.alerts.enabled and self.sinks else None
        self._alerts_lock = threading.Lock()  # decisions, health changes and the watch thread feed it

    @property
    def enabled(self) -> bool:
        return bool(self.sinks)

    def start(self) -> "EventsOut":
        for sink in self.sinks:
            try:  # before the first decision: a sink new to this log starts at its end, not after a first entry
                sink.outbox.load()
            except SQLAlchemyError as exc:  # the thread tries again
                log.warning("events out (%s): cursors not read yet: %s", sink.name, short_error(exc))
            sink.start()
        if self.sinks and (self.door is not None or self.alerts is not None):
            self._door_thread = threading.Thread(target=self._watch, name="events-watch", daemon=True)
            self._door_thread.start()
        return self

    def stop(self, flush_timeout: float = 2.0) -> bool:
        """Deliver what is pending (each sink up to ``flush_timeout``), say 'offline', stop."""
        self._stop.set()
        if self._door_thread is not None:
            self._door_thread.join(timeout=2)
        flushed = True
        for sink in self.sinks:
            flushed = sink.stop(flush_timeout) and flushed
        return flushed

    def kick(self, _rows=None) -> None:
        """The recorder committed rows (its listener): deliver them now. Never blocks."""
        for sink in self.sinks:
            sink.kick()

    def health_changed(self, component) -> None:
        """A health listener: a component changed state. Never blocks."""
        if not self.sinks:
            return
        now = self.clock()
        event = health_event(self.settings.gate.id, component, now)
        for sink in self.sinks:
            sink.live(event)
        if self.alerts is not None:
            with self._alerts_lock:
                alerts = self.alerts.health(now, component.name, component.state)
            self._send_alerts(alerts)

    def decided(self, entry, _decision=None) -> None:
        """The agent's decision listener: a confirmed fever or a run of denials may be an alert. Never blocks."""
        if self.alerts is None:
            return
        reasons = [code for code in (entry.reasons or "").split(",") if code]
        with self._alerts_lock:
            alerts = self.alerts.decided(utc(entry.decided_at).timestamp(), entry.outcome, reasons, entry.uid,
                                         entry.body_c)
        self._send_alerts(alerts)

    def _send_alerts(self, alerts) -> None:
        for alert in alerts:
            log.warning("alert %s at gate %s: %s", alert.kind, alert.gate_id, alert.text_en)
            event = alert_event(alert)
            for sink in self.sinks:
                sink.live(event)

    def pending(self) -> dict[str, int]:
        return {sink.name: sink.pending() for sink in self.sinks}

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(sink.flush(max(0.0, deadline - time.monotonic())) for sink in self.sinks)

    def _watch(self) -> None:
        """The door worker's actuations (its history, read as it grows) as live events, and the alerts'
        clock (a device down long enough)."""
        while not self._stop.wait(DOOR_POLL_S):
            self._tick()
        self._tick()  # the last ones (the door locked at stop)

    def _tick(self) -> None:
        if self.door is not None:
            self._collect_door()
        if self.alerts is not None:
            with self._alerts_lock:
                alerts = self.alerts.tick(self.clock())
            self._send_alerts(alerts)

    def _collect_door(self) -> None:
        history = list(self.door.actuations)
        fresh = []
        for actuation in reversed(history):
            if actuation is self._last_actuation:
                break
            fresh.append(actuation)
        if not fresh:
            return
        self._last_actuation = history[-1]
        for actuation in reversed(fresh):
            event = door_event(self.settings.gate.id, actuation)
            for sink in self.sinks:
                sink.live(event)

"""Supervisor alerts: what a supervisor must hear about now, not at the end of the day.

Three kinds, each off-able in ``[alerts]``, each kept from repeating by a cooldown:

- ``fever``: a visitor denied for a high temperature (after the re-test, when the rules ask for one: a
  first high reading is only a request to rest and measure again, and raises nothing);
- ``denials``: ``denials`` visitors denied at this gate within ``denials_window_s`` (something at the
  door is wrong: a drifting scanner, a crowd without masks, a gate set up badly);
- ``device_down``: the scanner, camera, database or door relay down for ``device_down_s`` (the gate has
  been closed that long); once per outage.

:class:`AlertWatch` is a pure state machine fed with decisions, health changes and the clock; the caller
delivers what it returns (``checkpoint.events_out``: kind ``alert`` on MQTT and in webhooks). An alert
carries no image, ever; a fever's temperature only where temperatures are stored.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional

from checkpoint.reasons import FEVER, canonical

FEVER_ALERT, DENIALS_ALERT, DEVICE_DOWN_ALERT = "fever", "denials", "device_down"
WATCHED_DEVICES = ("scanner", "camera", "database", "door")
DENIED, DOWN = "denied", "down"


@dataclass(frozen=True)
class Alert:
    kind: str
    gate_id: str
    t: float  # seconds since the epoch
    text_id: str  # what happened, in Bahasa Indonesia
    text_en: str  # and in English
    details: dict[str, Any] = field(default_factory=dict)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)


class AlertWatch:
    """Decisions, health changes and the clock in; alerts out. Not thread-safe: one caller (the events
    thread), or a lock around it."""

    def __init__(self, config: Any, gate_id: str, store_temperatures: bool = True) -> None:
        self.config, self.gate_id, self.store_temperatures = config, gate_id, store_temperatures
        self._denials: deque[float] = deque()
        self._last_sent: dict[tuple[str, str], float] = {}
        self._down_since: dict[str, float] = {}
        self._down_reported: set[str] = set()

    def decided(self, t: float, outcome: str, reasons: list[str], entry_uid: str,
                body_c: Optional[float] = None) -> list[Alert]:
        out: list[Alert] = []
        if outcome != DENIED:
            return out
        if self.config.fever and FEVER in {canonical(code) for code in reasons}:
            details: dict[str, Any] = {"entry_uid": entry_uid}
            if self.store_temperatures and body_c is not None:
                details["body_c"] = body_c
            out += self._send(FEVER_ALERT, "", t, "Pengunjung ditolak karena suhu tinggi.",
                              "A visitor was denied for a high temperature.", details)
        if self.config.denials:
            window = self.config.denials_window_s
            self._denials.append(t)
            while self._denials and self._denials[0] <= t - window:
                self._denials.popleft()
            if len(self._denials) >= self.config.denials:
                minutes = max(round(window / 60), 1)
                out += self._send(DENIALS_ALERT, "", t,
                                  f"{len(self._denials)} pengunjung ditolak dalam {minutes} menit.",
                                  f"{len(self._denials)} visitors denied within {minutes} min.",
                                  {"denied": len(self._denials), "window_s": window})
        return out

    def health(self, t: float, component: str, state: str) -> list[Alert]:
        """A component changed state; a device back up can be reported again next time it goes down."""
        if component not in WATCHED_DEVICES:
            return []
        if state == DOWN:
            self._down_since.setdefault(component, t)
        else:
            self._down_since.pop(component, None)
            self._down_reported.discard(component)
        return self.tick(t)

    def tick(self, t: float) -> list[Alert]:
        out: list[Alert] = []
        limit = self.config.device_down_s
        if not limit:
            return out
        for component, since in sorted(self._down_since.items()):
            if component in self._down_reported or t - since < limit:
                continue
            minutes = max(int((t - since) // 60), 1)
            sent = self._send(DEVICE_DOWN_ALERT, component, t, f"{component} mati selama {minutes} menit; "
                              f"pintu tertutup.", f"{component} down for {minutes} min; the gate is closed.",
                              {"component": component, "down_s": round(t - since, 1)})
            if sent:
                self._down_reported.add(component)
            out += sent
        return out

    def _send(self, kind: str, key: str, t: float, text_id: str, text_en: str, details: dict) -> list[Alert]:
        """The alert, unless the same one (kind, and device for device_down) went out within the cooldown."""
        last = self._last_sent.get((kind, key))
        if last is not None and t - last < self.config.cooldown_s:
            return []
        self._last_sent[(kind, key)] = t
        return [Alert(kind, self.gate_id, t, text_id, text_en, details)]

"""The gate's state (MQTT's retained ``<prefix>/<gate>/state``) and Home Assistant discovery.

The state is read from the local log and the agent, in the sink's thread:
today's visitors (final allowed + denied, checkpoint.counts), occupancy,
the last entry and its temperature, the worst component state and each
component's, the door. Home Assistant reads its sensors from it with value
templates; ``<prefix>/<gate>/availability`` ("online", retained; the last
will "offline") makes them unavailable when the agent is gone.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Optional

from sqlalchemy import select
from sqlmodel import Session, col

from checkpoint import __version__
from checkpoint.counts import daily_counts
from checkpoint.entries import local_date_hour
from checkpoint.events_out.payloads import encode, iso
from checkpoint.health import DEGRADED, DOWN, OK, UNKNOWN, HealthRegistry
from checkpoint.models import Entry

ONLINE, OFFLINE = "online", "offline"
_RANK = {OK: 0, UNKNOWN: 1, DEGRADED: 2, DOWN: 3}


class GateState:
    def __init__(self, engine, settings, health: Optional[HealthRegistry] = None,
                 occupancy: Optional[Callable[[], Optional[int]]] = None,
                 door: Optional[Callable[[], str]] = None, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.settings, self.health = engine, settings, health
        self.occupancy, self.door, self.clock = occupancy, door, clock

    def document(self) -> dict:
        gate = self.settings.gate
        now = self.clock()
        day, _ = local_date_hour(now, self.settings.zone)
        with Session(self.engine) as session:
            counts = daily_counts(session, day, gate.id)
            last = session.execute(select(col(Entry.uid), col(Entry.decided_at), col(Entry.outcome), col(Entry.body_c))
                                   .where(col(Entry.gate_id) == gate.id).order_by(col(Entry.id).desc())
                                   .limit(1)).first()
            measured = session.execute(select(col(Entry.body_c)).where(col(Entry.gate_id) == gate.id,
                                                                      col(Entry.body_c).is_not(None))
                                       .order_by(col(Entry.id).desc()).limit(1)).scalar()
        components = {name: c["state"] for name, c in (self.health.snapshot(now) if self.health else {}).items()}
        worst = max(components.values(), key=lambda state: _RANK.get(state, 1), default=UNKNOWN)
        inside = self.occupancy() if self.occupancy else None
        return {
            "v": 1, "gate": gate.id, "name": gate.name, "at": iso(now), "day": day,
            "visitors_today": counts.visitors, "allowed_today": counts.allowed, "denied_today": counts.denied,
            "remeasure_today": counts.remeasure, "exits_today": counts.exits,
            "occupancy": inside, "capacity": self.settings.rules.capacity.limit or None,
            "last_entry_uid": last.uid if last else None, "last_entry_at": iso(last.decided_at) if last else None,
            "last_outcome": last.outcome if last else None,
            "last_temperature_c": round(measured, 2) if measured is not None else None,
            "health": worst, "components": components,
            "door": self.door() if self.door else "off",
        }


def same_state(a: Optional[dict], b: Optional[dict]) -> bool:
    """Two state documents that differ in their time only."""
    if a is None or b is None:
        return False
    return {k: v for k, v in a.items() if k != "at"} == {k: v for k, v in b.items() if k != "at"}


def discovery(settings, topic_prefix: str, discovery_prefix: str, door_driven: bool) -> list[tuple[str, bytes]]:
    """Home Assistant MQTT discovery: one retained config per sensor (an empty one removes the door's when no
    door is driven)."""
    gate = settings.gate
    node = re.sub(r"[^A-Za-z0-9_-]", "_", f"checkpoint_{gate.id}")
    base = f"{topic_prefix}/{gate.id}"
    device = {"identifiers": [node], "name": f"Checkpoint {gate.name}", "manufacturer": "Checkpoint",
              "model": "entry-screening gate", "sw_version": __version__}
    common = {"state_topic": f"{base}/state", "availability_topic": f"{base}/availability",
              "payload_available": ONLINE, "payload_not_available": OFFLINE, "device": device}
    sensors: dict[tuple[str, str], dict[str, object]] = {
        ("sensor", "visitors_today"): {"name": "Visitors today", "icon": "mdi:account-group",
                                       "state_class": "total_increasing",
                                       "value_template": "{{ value_json.visitors_today }}",
                                       "unit_of_measurement": "visitors"},
        ("sensor", "occupancy"): {"name": "Occupancy", "icon": "mdi:home-account", "state_class": "measurement",
                                  "value_template": "{{ value_json.occupancy }}", "unit_of_measurement": "people"},
        ("sensor", "last_temperature"): {"name": "Last temperature", "device_class": "temperature",
                                         "state_class": "measurement", "unit_of_measurement": "°C",
                                         "suggested_display_precision": 1,
                                         "value_template": "{{ value_json.last_temperature_c }}"},
        ("sensor", "health"): {"name": "Gate health", "icon": "mdi:shield-check", "device_class": "enum",
                               "options": [OK, UNKNOWN, DEGRADED, DOWN], "value_template": "{{ value_json.health }}",
                               "json_attributes_topic": f"{base}/state",
                               "json_attributes_template": "{{ value_json.components | tojson }}"},
        ("binary_sensor", "door"): {"name": "Door", "device_class": "door",
                                    "value_template": "{{ 'ON' if value_json.door == 'open' else 'OFF' }}"},
    }
    messages = []
    for (component, key), config in sensors.items():
        topic = f"{discovery_prefix}/{component}/{node}/{key}/config"
        if key == "door" and not door_driven:
            messages.append((topic, b""))  # removes a door sensor published before
            continue
        messages.append((topic, encode({**common, **config, "unique_id": f"{node}_{key}"})))
    return messages

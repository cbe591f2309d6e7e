"""The JSON of each event, the same on MQTT and in a webhook's body (docs/events.md).

Every event is one JSON object with ``v`` (1), ``kind``, ``gate`` and
``uid``: the entry's, exit's or override's own uid for events read from the
log, so a consumer drops a repeat by its uid (delivery is at least once: a
message may come again after an outage or a restart, never out of order).
An override also carries ``entry_uid``, a door actuation the ``entry_uid`` it
was for. Times are ISO 8601 in UTC.

No face image (nor its path) and no rule settings leave the gate.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional, overload

VERSION = 1
ENTRY, EXIT, OVERRIDE, DOOR, HEALTH, ALERT = "entry", "exit", "override", "door", "health", "alert"
KINDS = (ENTRY, EXIT, OVERRIDE, DOOR, HEALTH, ALERT)
LOGGED = (ENTRY, EXIT, OVERRIDE)  # read from the local log (store-and-forward); the others are live only

ENTRY_FIELDS = ("local_date", "local_hour", "outcome", "flagged", "primary_reason", "body_c", "object_c",
                "ambient_c", "calibration", "offset_c", "sensor_id", "readings", "mask_class",
                "mask_confidence", "face_seen", "door")


@dataclass
class Event:
    kind: str
    uid: str
    payload: dict
    source: Optional[str] = None  # the log table it was read from (entry, exit, override), None: live
    row_id: Optional[int] = None
    t: float = 0.0  # seconds since the epoch (order of the merged stream)
    row_at: Optional[datetime] = None  # the row's own time, exactly (the outbox's cursor keeps it)
    body: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.body:
            self.body = encode(self.payload)


def encode(payload: dict) -> bytes:
    """The bytes sent: compact JSON, keys sorted, UTF-8 (the webhook signature is over exactly these)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@overload
def utc(moment: datetime) -> datetime: ...
@overload
def utc(moment: None) -> None: ...
def utc(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def iso(moment: Optional[datetime | float]) -> Optional[str]:
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    return utc(moment).isoformat().replace("+00:00", "Z")


def _base(kind: str, gate: str, uid: str) -> dict[str, Any]:
    return {"v": VERSION, "kind": kind, "gate": gate, "uid": uid}


def entry_event(row: Any, row_id: Optional[int] = None) -> Event:
    """An Entry row (or a row of the entry table) as an event."""
    payload = _base(ENTRY, row.gate_id, row.uid)
    payload["at"] = iso(row.decided_at)
    payload.update({name: getattr(row, name) for name in ENTRY_FIELDS})
    payload["flagged"] = bool(payload["flagged"])
    payload["face_seen"] = bool(payload["face_seen"])
    payload["reasons"] = [code for code in (row.reasons or "").split(",") if code]
    payload["visit_started_at"] = iso(row.visit_started_at)
    return Event(ENTRY, row.uid, payload, ENTRY, row_id, utc(row.decided_at).timestamp(), utc(row.decided_at))


def exit_event(row: Any, row_id: Optional[int] = None) -> Event:
    payload = _base(EXIT, row.gate_id, row.uid)
    payload.update({"at": iso(row.at), "local_date": row.local_date, "source": row.source, "by_user": row.by_user})
    return Event(EXIT, row.uid, payload, EXIT, row_id, utc(row.at).timestamp(), utc(row.at))


def override_event(row: Any, row_id: Optional[int] = None) -> Event:
    payload = _base(OVERRIDE, row.gate_id, row.uid)
    payload.update({"at": iso(row.at), "entry_uid": row.entry_uid, "outcome": row.outcome,
                    "by_user": row.by_user, "reason": row.reason})
    return Event(OVERRIDE, row.uid, payload, OVERRIDE, row_id, utc(row.at).timestamp(), utc(row.at))


ROW_EVENTS = {ENTRY: entry_event, EXIT: exit_event, OVERRIDE: override_event}


def door_event(gate: str, actuation: Any) -> Event:
    """A checkpoint.door.Actuation: what the door was told, and whether the relay took it."""
    uid = uuid.uuid4().hex
    payload = _base(DOOR, gate, uid)
    payload.update({"at": iso(actuation.done_t), "asked_at": iso(actuation.asked_t),
                    "entry_uid": actuation.entry_uid or None, "trigger": actuation.trigger,
                    "command": actuation.command, "opened": bool(actuation.opened), "error": actuation.error or None})
    return Event(DOOR, uid, payload, t=actuation.done_t)


def health_event(gate: str, component: Any, t: float) -> Event:
    """A checkpoint.health.ComponentHealth that changed state."""
    uid = uuid.uuid4().hex
    payload = _base(HEALTH, gate, uid)
    payload.update({"at": iso(t), "component": component.name, "state": component.state,
                    "message": component.message, "since": iso(component.since_t)})
    return Event(HEALTH, uid, payload, t=t)


def alert_event(alert: Any) -> Event:
    """A checkpoint.alerts.Alert: ``alert`` (fever, denials, device_down), its text in both languages and
    its details (the entry's uid for a fever, the count for denials, the device for device_down)."""
    payload = _base(ALERT, alert.gate_id, alert.uid)
    payload.update({"at": iso(alert.t), "alert": alert.kind, "text_id": alert.text_id, "text_en": alert.text_en,
                    **alert.details})
    return Event(ALERT, alert.uid, payload, t=alert.t)

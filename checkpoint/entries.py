"""Turning a decision into the row the entry log keeps."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from checkpoint.models import Entry, Exit
from checkpoint.policy import Decision, Visit


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def local_date_hour(t: float, zone: ZoneInfo) -> tuple[str, int]:
    local = datetime.fromtimestamp(t, tz=zone)
    return local.date().isoformat(), local.hour


def mask_confidence(decision: Decision) -> Optional[float]:
    """The smoothed probability of the recorded mask class (for an uncertain verdict, the likeliest class's)."""
    mask = decision.mask
    if mask is None or decision.mask_class is None or not mask.probs:
        return None
    p = mask.probs.get(decision.mask_class)
    return round(p if p is not None else max(mask.probs.values()), 4)


def build_entry(gate_id: str, zone: ZoneInfo, visit: Visit, decision: Decision,
                face_image: Optional[str] = None) -> Entry:
    day, hour = local_date_hour(visit.decided_t, zone)
    reading = decision.reading
    mask = decision.mask
    codes = decision.all_codes
    return Entry(
        gate_id=gate_id,
        decided_at=_utc(visit.decided_t),
        local_date=day,
        local_hour=hour,
        outcome=decision.outcome,
        flagged=decision.flagged,
        reasons=",".join(codes),
        primary_reason=decision.primary_reason,
        body_c=round(reading.body_c, 2) if reading else None,
        object_c=round(reading.object_c, 2) if reading else None,
        ambient_c=round(reading.ambient_c, 2) if reading and reading.ambient_c is not None else None,
        calibration=reading.calibration.method if reading else "none",
        offset_c=round(reading.calibration.total_offset_c, 3) if reading else 0.0,
        sensor_id=reading.sensor_id if reading else "",
        readings=len(visit.readings),
        mask_class=decision.mask_class,
        mask_confidence=mask_confidence(decision),
        face_seen=mask is not None,
        visit_started_at=_utc(visit.started_t),
        rules=decision.rules,
        face_image=face_image,
    )


def build_exit(gate_id: str, zone: ZoneInfo, t: float, source: str, by_user: Optional[str] = None) -> Exit:
    day, _ = local_date_hour(t, zone)
    return Exit(gate_id=gate_id, at=_utc(t), local_date=day, source=source, by_user=by_user)

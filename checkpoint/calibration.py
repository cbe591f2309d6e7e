"""Measuring ``[scanner.calibration] offset_c`` against a reference, and the history of calibrations.

``checkpoint calibrate`` reads the scanner raw (no calibration) while a reference of known temperature is
held in front of it (a blackbody, or a forehead just measured with a clinical thermometer), and
:func:`measure_offset` turns those readings into an offset, refusing too few readings or readings that
spread too much (the reference moved, or the sensor is badly placed). Each calibration is appended to
``<data_dir>/calibration.jsonl`` (when, by whom, the reference, the readings' mean and spread, the
offset): the audit trail. The configuration itself is not rewritten; the command prints what to set.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

HISTORY_FILE = "calibration.jsonl"


class CalibrationError(ValueError):
    """The readings cannot give an offset to trust."""


@dataclass(frozen=True)
class CalibrationResult:
    reference_c: float
    readings: int
    raw_mean_c: float
    spread_c: float  # the readings' standard deviation
    offset_c: float  # to add to every raw reading


def measure_offset(raw_c: Sequence[float], reference_c: float, min_readings: int = 10,
                   max_spread_c: float = 0.3) -> CalibrationResult:
    """The offset that brings the raw readings of a reference to its known temperature."""
    if len(raw_c) < min_readings:
        raise CalibrationError(f"{len(raw_c)} readings, at least {min_readings} needed: is the reference in "
                               f"front of the sensor, and the sensor sending?")
    mean = statistics.fmean(raw_c)
    spread = statistics.pstdev(raw_c)
    if spread > max_spread_c:
        raise CalibrationError(f"the readings spread by {spread:.2f} °C (at most {max_spread_c:g}): the reference "
                               f"moved, or the sensor is in a draught or the sun; hold it still and try again")
    offset = round(reference_c - mean, 2)
    if abs(offset) > 10:
        raise CalibrationError(f"an offset of {offset:+.2f} °C is beyond what calibration can correct (±10): "
                               f"check the reference's temperature and the sensor's emissivity")
    return CalibrationResult(reference_c, len(raw_c), round(mean, 3), round(spread, 3), offset)


def record(data_dir: Path, result: CalibrationResult, at: str, by: str, sensor_id: str) -> Path:
    """Append a calibration to the history (one JSON object per line); returns the file."""
    path = Path(data_dir) / HISTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"at": at, "by": by, "sensor_id": sensor_id, **asdict(result)}, sort_keys=True) + "\n")
    return path


def latest(data_dir: Path) -> Optional[dict]:
    """The newest calibration in the history, or None (no file, or no readable line)."""
    path = Path(data_dir) / HISTORY_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


STALE_DAYS = 30  # calibrate at least monthly (docs/hardware.md)


def calibration_health(entry: Optional[dict], configured_offset_c: float, method: str,
                       now: datetime) -> tuple[str, str]:
    """(state, message) for the health panel's calibration row: ok while the newest calibration is recent
    and is the offset in force, or when none was recorded here (the offset as configured); degraded when
    it is older than STALE_DAYS or the configuration carries another offset."""
    if method != "offset":
        return "ok", f"method {method}"
    if entry is None:
        return "ok", f"offset {configured_offset_c:+.2f} °C as configured; no calibration recorded here " \
                     f"(checkpoint calibrate)"
    try:
        at = datetime.fromisoformat(entry["at"])
        offset = float(entry["offset_c"])
    except (KeyError, TypeError, ValueError):
        return "degraded", "the calibration history cannot be read"
    days = max((now - at).days, 0)
    said = f"offset {offset:+.2f} °C, calibrated {days} days ago by {entry.get('by', '?')}"
    if abs(offset - configured_offset_c) > 0.005:
        return "degraded", f"{said}, but the configuration has {configured_offset_c:+.2f} °C"
    if days > STALE_DAYS:
        return "degraded", f"{said}: calibrate again (every {STALE_DAYS} days)"
    return "ok", said

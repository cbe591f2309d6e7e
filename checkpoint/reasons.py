"""Reason codes for decisions, with the screen's messages in Bahasa Indonesia and English.

Codes are stored in the entry log; messages are looked up at display time, so
a wording change never rewrites history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

FEVER = "fever"
FEVER_RETEST = "fever_retest"
IMPLAUSIBLE = "implausible_temperature"
NO_MASK = "no_mask"
MASK_INCORRECT = "mask_incorrect"  # a mask on the face that leaves the nose or the mouth bare
MASK_UNCERTAIN = "mask_uncertain"
NO_FACE = "no_face"
FACE_TURNED = "face_turned"  # the face was seen only in profile, so its mask was not judged
NO_READING = "no_reading"
CAPACITY_FULL = "capacity_full"
SCANNER_FAULT = "scanner_fault"
CAMERA_FAULT = "camera_fault"
WELCOME = "welcome"

# Codes older entries may hold that new decisions never produce, and the code each now counts under.
LEGACY: dict[str, str] = {
    "mask_below_nose": MASK_INCORRECT,  # before mask_incorrect (nose or mouth bare) replaced it
}


@dataclass(frozen=True)
class ReasonText:
    id: str
    en: str


MESSAGES: dict[str, ReasonText] = {
    WELCOME: ReasonText("Silakan masuk", "Please enter"),
    FEVER: ReasonText(
        "Suhu tubuh tinggi. Mohon ke petugas untuk pemeriksaan lanjutan.",
        "High body temperature. Please see the officer for secondary screening.",
    ),
    FEVER_RETEST: ReasonText(
        "Suhu tinggi. Istirahat 5 menit, lalu ukur ulang.",
        "High temperature. Rest for 5 minutes, then measure again.",
    ),
    IMPLAUSIBLE: ReasonText(
        "Ukur ulang: dekatkan dahi ke sensor.",
        "Measure again: hold your forehead closer to the sensor.",
    ),
    NO_MASK: ReasonText("Wajib memakai masker.", "A face mask is required."),
    MASK_INCORRECT: ReasonText(
        "Mohon pakai masker dengan benar: tutupi hidung dan mulut.", "Please cover your nose and mouth."
    ),
    MASK_UNCERTAIN: ReasonText(
        "Masker tidak terlihat jelas. Hadapkan wajah ke kamera.",
        "Mask not clearly visible. Please face the camera.",
    ),
    NO_FACE: ReasonText("Hadapkan wajah ke kamera.", "Please face the camera."),
    FACE_TURNED: ReasonText("Hadapkan wajah ke kamera.", "Please face the camera."),
    NO_READING: ReasonText("Ukur suhu tubuh di sensor.", "Please measure your temperature at the sensor."),
    CAPACITY_FULL: ReasonText("Kapasitas penuh. Mohon menunggu.", "Capacity reached. Please wait."),
    SCANNER_FAULT: ReasonText(
        "Sensor suhu bermasalah. Mohon ke petugas.", "Temperature scanner fault. Please see the officer."
    ),
    CAMERA_FAULT: ReasonText("Kamera bermasalah. Mohon ke petugas.", "Camera fault. Please see the officer."),
}

# Messages that carry the gate's settings (message() fills them in): the rest before a re-test and the time to
# come back (rules.fever.rest_s), and whether the limit is the gate's or the building's (rules.capacity.scope).
FEVER_RETEST_AFTER = ReasonText(
    "Suhu tinggi. Istirahat {minutes} menit, lalu ukur ulang.",
    "High temperature. Rest for {minutes} minutes, then measure again.",
)
FEVER_RETEST_AT = ReasonText(
    "Suhu tinggi. Istirahat {minutes} menit, lalu ukur ulang: kembali pukul {at}.",
    "High temperature. Rest for {minutes} minutes, then measure again: come back at {at}.",
)
FEVER_RETEST_NOW = ReasonText("Suhu tinggi. Mohon ukur ulang.", "High temperature. Please measure again.")
CAPACITY_FULL_BUILDING = ReasonText("Gedung penuh. Mohon menunggu.", "The building is full. Please wait.")
CAPACITY_FULL_GATE = ReasonText("Kapasitas penuh. Mohon menunggu.", "Capacity reached. Please wait.")

# Short labels for tables, charts and filters.
LABELS: dict[str, ReasonText] = {
    FEVER: ReasonText("Demam", "Fever"),
    FEVER_RETEST: ReasonText("Ukur ulang (suhu tinggi)", "Re-test (high reading)"),
    IMPLAUSIBLE: ReasonText("Suhu tidak wajar", "Implausible reading"),
    NO_MASK: ReasonText("Tanpa masker", "No mask"),
    MASK_INCORRECT: ReasonText("Masker tidak benar", "Mask worn incorrectly"),
    MASK_UNCERTAIN: ReasonText("Masker tidak jelas", "Mask unclear"),
    NO_FACE: ReasonText("Wajah tidak terlihat", "Face not visible"),
    FACE_TURNED: ReasonText("Wajah menyamping", "Face turned away"),
    NO_READING: ReasonText("Suhu belum diukur", "No reading"),
    CAPACITY_FULL: ReasonText("Kapasitas penuh", "Capacity full"),
    SCANNER_FAULT: ReasonText("Gangguan sensor suhu", "Scanner fault"),
    CAMERA_FAULT: ReasonText("Gangguan kamera", "Camera fault"),
    # Legacy codes keep their own label, so an old entry still reads as it was decided.
    "mask_below_nose": ReasonText("Masker di bawah hidung", "Mask below nose"),
}

OUTCOME_LABELS: dict[str, ReasonText] = {
    "allowed": ReasonText("DIIZINKAN", "ALLOWED"),
    "denied": ReasonText("DITOLAK", "DENIED"),
    "remeasure": ReasonText("UKUR ULANG", "MEASURE AGAIN"),
}


def canonical(code: str) -> str:
    """The code a legacy code now counts under (itself for a current code)."""
    return LEGACY.get(code, code)


def family(code: str) -> tuple[str, ...]:
    """The code and every legacy code that counts under it, for filters."""
    return (code, *sorted(old for old, new in LEGACY.items() if new == code))


def current_codes() -> list[str]:
    """Codes new decisions can produce that have a label (for filter menus), sorted."""
    return sorted(code for code in LABELS if code not in LEGACY)


def rest_minutes(rest_s: float) -> int:
    """The rest before a re-test in whole minutes, rounded up (a visitor never comes back too early)."""
    return max(math.ceil(rest_s / 60 - 1e-9), 1) if rest_s > 0 else 0


def message(code: str, language: str, rest_s: Optional[float] = None, back_at: Optional[str] = None,
            capacity_scope: Optional[str] = None) -> str:
    """The visitor's message for a code. With ``rest_s`` (rules.fever.rest_s) the re-test message names the
    rest, and with ``back_at`` ("10:25") the time to come back; ``capacity_scope`` "building" says the building
    is full, "gate" only that the capacity is reached. Without them, the texts in MESSAGES."""
    code = canonical(code)
    text = MESSAGES.get(code)
    if code == FEVER_RETEST and rest_s is not None:
        minutes = rest_minutes(rest_s)
        text = FEVER_RETEST_NOW if not minutes else (FEVER_RETEST_AT if back_at else FEVER_RETEST_AFTER)
    elif code == CAPACITY_FULL and capacity_scope is not None:
        text = CAPACITY_FULL_BUILDING if capacity_scope == "building" else CAPACITY_FULL_GATE
    if text is None:
        return code
    chosen = text.id if language == "id" else text.en
    if code == FEVER_RETEST and rest_s is not None:
        chosen = chosen.format(minutes=rest_minutes(rest_s), at=back_at or "")
    return chosen


def label(code: str, language: str) -> str:
    text = LABELS.get(code)
    if text is None:
        return code
    return text.id if language == "id" else text.en


def split_codes(reasons: str) -> list[str]:
    return [code for code in reasons.split(",") if code]


CLOSED_PROMPT = "closed"  # the spoken prompt for a decision with no reason to give (a guard's call)


def voice_key(outcome: str, reasons: list[str]) -> str:
    """The spoken prompt for a decision (the visitor screen's and the gate speaker's): welcome for an allowed
    visitor, else the primary reason's, else "closed" (see the officer)."""
    if outcome == "allowed":
        return WELCOME
    return canonical(reasons[0]) if reasons else CLOSED_PROMPT

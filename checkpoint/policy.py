"""Decision rules: a pure function from a visit and the context to a decision.

Rules and their sources are in DESIGN.md §3 (KMK HK.01.07/MENKES/382/2020,
IEC 80601-2-59, FDA guidance). Every rule has a mode: ``deny`` applies its
natural effect (deny, or ask to re-measure), ``flag`` lets the visitor in and
records the reason as a flag, ``off`` ignores it. No I/O happens here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from checkpoint import reasons as R
from checkpoint.config import RulesConfig
from checkpoint.mask_verdict import mask_verdict
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, UNCERTAIN, ThermalReading
from checkpoint.models import ALLOWED, DENIED, REMEASURE

# Effects a failed check has when its rule is in ``deny`` mode.
DENY = "deny"
ASK_AGAIN = "remeasure"

# Order in which reasons are listed: what the visitor must act on first. A high first reading comes before a
# full building: the visitor is asked to rest and re-test whatever the occupancy (it may have changed by then).
PRIORITY = (
    R.SCANNER_FAULT, R.CAMERA_FAULT, R.FEVER, R.NO_MASK, R.MASK_INCORRECT, R.FEVER_RETEST,
    R.CAPACITY_FULL, R.IMPLAUSIBLE, R.NO_READING, R.NO_FACE, R.FACE_TURNED, R.MASK_UNCERTAIN,
)


@dataclass(frozen=True)
class MaskSummary:
    """Mask probabilities smoothed over the visitor's frames, and how turned the head was in each.

    ``yaw_deg`` holds one entry per frame (in frame order): the head's |yaw| in
    degrees, or None where the detector gave no pose. It may be empty when no
    frame had a pose."""

    probs: dict[str, float]
    frames: int
    yaw_deg: tuple[Optional[float], ...] = ()

    def frontal_frames(self, max_yaw_deg: float) -> int:
        """Frames seen within ``max_yaw_deg`` of frontal; a frame without a pose counts as frontal."""
        turned = sum(1 for yaw in self.yaw_deg if yaw is not None and yaw > max_yaw_deg)
        return max(self.frames - turned, 0)


@dataclass(frozen=True)
class Visit:
    """Everything the gate knows about one visitor when it decides."""

    started_t: float
    decided_t: float
    readings: tuple[ThermalReading, ...] = ()
    mask: Optional[MaskSummary] = None  # None: no face seen
    scanner_down: bool = False
    camera_down: bool = False
    camera_enabled: bool = True
    scanner_enabled: bool = True
    is_retest: bool = False  # a re-test after the rest that a first high reading asked for
    face_jpeg: Optional[bytes] = field(default=None, compare=False, repr=False)  # only when images are kept


@dataclass(frozen=True)
class Context:
    occupancy: int = 0


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: tuple[str, ...] = ()  # codes that shaped the outcome, most important first
    flags: tuple[str, ...] = ()  # codes of rules in flag mode that failed (visitor allowed)
    reading: Optional[ThermalReading] = None  # the reading the decision used
    mask: Optional[MaskSummary] = None
    rules: str = "{}"  # JSON of the modes and thresholds in force
    mask_class: Optional[str] = None  # the mask verdict (a class in MASK_CLASSES or UNCERTAIN); None: no face seen

    @property
    def all_codes(self) -> tuple[str, ...]:
        return self.reasons + tuple(code for code in self.flags if code not in self.reasons)

    @property
    def primary_reason(self) -> str:
        codes = self.all_codes
        return codes[0] if codes else ""

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass
class _Findings:
    effects: dict[str, str] = field(default_factory=dict)  # code -> DENY / ASK_AGAIN
    flags: list[str] = field(default_factory=list)

    def add(self, code: str, effect: str, mode: str) -> None:
        if mode == "off":
            return
        if mode == "flag":
            self.flags.append(code)
        else:
            self.effects[code] = effect


def is_plausible(body_c: float, rules: RulesConfig) -> bool:
    return rules.plausible.min_c <= body_c <= rules.plausible.max_c


def is_high(body_c: float, rules: RulesConfig) -> bool:
    # Compare in tenths of a degree, as screening thresholds are set (37.3 counts).
    return round(body_c * 10) >= round(rules.fever.threshold_c * 10)


def choose_reading(readings: tuple[ThermalReading, ...], rules: RulesConfig) -> Optional[ThermalReading]:
    """The highest plausible reading, else the latest reading (which is then implausible)."""
    plausible = [r for r in readings if is_plausible(r.body_c, rules)]
    if plausible:
        return max(plausible, key=lambda r: (r.body_c, r.t))
    return readings[-1] if readings else None


def _temperature(visit: Visit, rules: RulesConfig, found: _Findings) -> Optional[ThermalReading]:
    mode = rules.fever.mode
    if not visit.scanner_enabled:
        return None
    reading = choose_reading(visit.readings, rules)
    if reading is None:
        if visit.scanner_down:
            found.add(R.SCANNER_FAULT, DENY, rules.fault.mode)
        else:
            found.add(R.NO_READING, ASK_AGAIN, mode)
        return None
    if not is_plausible(reading.body_c, rules):
        found.add(R.IMPLAUSIBLE, ASK_AGAIN, mode)
    elif is_high(reading.body_c, rules):
        if rules.fever.retest and not visit.is_retest:
            found.add(R.FEVER_RETEST, ASK_AGAIN, mode)
        else:
            found.add(R.FEVER, DENY, mode)
    return reading


def _mask(visit: Visit, rules: RulesConfig, found: _Findings) -> Optional[str]:
    """Apply the face and mask rules; return the mask verdict to record (None: no face seen)."""
    summary = visit.mask
    if not visit.camera_enabled:
        return None
    if summary is None:
        if visit.camera_down:
            found.add(R.CAMERA_FAULT, DENY, rules.fault.mode)
        else:
            found.add(R.NO_FACE, ASK_AGAIN, rules.face.mode)
        return None
    if summary.frames > 0 and summary.frontal_frames(rules.face.max_yaw_deg) == 0:
        # Seen only in profile: whether the mask covers the nose and mouth cannot be judged from the side,
        # so ask to face the camera instead. In flag mode the visitor goes on to the mask rule as seen.
        found.add(R.FACE_TURNED, ASK_AGAIN, rules.face.mode)
        if rules.face.mode == "deny":
            return UNCERTAIN
    verdict = mask_verdict(summary.probs, rules.mask.mask_threshold, rules.mask.refuse_threshold)
    if verdict == NO_MASK:
        found.add(R.NO_MASK, DENY, rules.mask.mode)
    elif verdict == MASK_INCORRECT:
        # Refused by default; with incorrect_is_no_mask = false let in as masked, but flagged.
        mode = rules.mask.mode if rules.mask.incorrect_is_no_mask or rules.mask.mode == "off" else "flag"
        found.add(R.MASK_INCORRECT, DENY, mode)
    elif verdict != MASK:
        found.add(R.MASK_UNCERTAIN, ASK_AGAIN, rules.mask.mode)
    return verdict


def _capacity(context: Context, rules: RulesConfig, found: _Findings) -> None:
    limit = rules.capacity.limit
    if limit > 0 and context.occupancy >= limit:
        found.add(R.CAPACITY_FULL, DENY, rules.capacity.mode)


def rules_in_force(rules: RulesConfig) -> str:
    return json.dumps(rules.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _ordered(codes) -> tuple[str, ...]:
    return tuple(sorted(codes, key=lambda code: PRIORITY.index(code) if code in PRIORITY else len(PRIORITY)))


def decide(visit: Visit, context: Context, rules: RulesConfig, rules_json: Optional[str] = None) -> Decision:
    """Apply every rule to the visit; pure and deterministic."""
    found = _Findings()
    reading = _temperature(visit, rules, found)
    mask_class = _mask(visit, rules, found)
    _capacity(context, rules, found)
    effects = found.effects
    denials = {code for code, effect in effects.items() if effect == DENY}
    # A high first reading while the building is full: asked to re-test (capacity_full still listed), not only
    # told to wait, so the reading is never hidden behind the occupancy.
    if denials and not (R.FEVER_RETEST in effects and denials == {R.CAPACITY_FULL}):
        outcome = DENIED
    elif ASK_AGAIN in effects.values():
        outcome = REMEASURE
    else:
        outcome = ALLOWED
    return Decision(
        outcome=outcome,
        reasons=_ordered(effects),
        flags=_ordered(found.flags),
        reading=reading,
        mask=visit.mask,
        rules=rules_json if rules_json is not None else rules_in_force(rules),
        mask_class=mask_class,
    )

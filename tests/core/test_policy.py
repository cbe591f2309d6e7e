import json

import pytest

from checkpoint import reasons as R
from checkpoint.config import RulesConfig
from checkpoint.messages import ThermalReading
from checkpoint.policy import Context, MaskSummary, Visit, decide

MASKED = MaskSummary({"mask": 0.96, "no_mask": 0.04}, 5)
UNMASKED = MaskSummary({"mask": 0.05, "no_mask": 0.95}, 5)
BELOW_NOSE = MaskSummary({"mask": 0.2, "no_mask": 0.1, "mask_below_nose": 0.7}, 5)
UNSURE = MaskSummary({"mask": 0.52, "no_mask": 0.48}, 5)


def visit(*temps, mask=MASKED, **kwargs):
    readings = tuple(ThermalReading(t=i, body_c=c, object_c=c) for i, c in enumerate(temps))
    return Visit(started_t=0, decided_t=10, readings=readings, mask=mask, **kwargs)


def rules(**sections):
    return RulesConfig.model_validate(sections)


@pytest.mark.parametrize("temp, outcome, codes", [
    (36.6, "allowed", ()),
    (37.2, "allowed", ()),
    (37.25, "allowed", ()),  # 37.2 in tenths
    (37.3, "remeasure", (R.FEVER_RETEST,)),  # at the threshold counts
    (38.4, "remeasure", (R.FEVER_RETEST,)),
    (33.9, "remeasure", (R.IMPLAUSIBLE,)),  # cold skin, too far: never a fever
    (43.1, "remeasure", (R.IMPLAUSIBLE,)),
    (34.0, "allowed", ()),
    (43.0, "remeasure", (R.FEVER_RETEST,)),
])
def test_temperature_rules(temp, outcome, codes):
    decision = decide(visit(temp), Context(), RulesConfig())
    assert (decision.outcome, decision.reasons) == (outcome, codes)


def test_confirmed_fever_on_retest_denies():
    decision = decide(visit(37.6, is_retest=True), Context(), RulesConfig())
    assert decision.outcome == "denied" and decision.reasons == (R.FEVER,)


def test_without_retest_a_high_reading_denies_at_once():
    decision = decide(visit(37.6), Context(), rules(fever={"retest": False}))
    assert decision.outcome == "denied" and decision.reasons == (R.FEVER,)


def test_highest_plausible_reading_is_used():
    decision = decide(visit(33.0, 36.4, 36.9, 45.0), Context(), RulesConfig())
    assert decision.outcome == "allowed" and decision.reading.body_c == 36.9


@pytest.mark.parametrize("mask, outcome, codes", [
    (UNMASKED, "denied", (R.NO_MASK,)),
    (BELOW_NOSE, "denied", (R.MASK_BELOW_NOSE,)),
    (UNSURE, "remeasure", (R.MASK_UNCERTAIN,)),
    (None, "remeasure", (R.NO_FACE,)),
])
def test_mask_rules(mask, outcome, codes):
    decision = decide(visit(36.5, mask=mask), Context(), RulesConfig())
    assert (decision.outcome, decision.reasons) == (outcome, codes)


def test_below_nose_can_be_accepted():
    decision = decide(visit(36.5, mask=BELOW_NOSE), Context(), rules(mask={"below_nose_is_no_mask": False}))
    assert decision.outcome == "allowed"


def test_flag_mode_allows_and_records():
    decision = decide(visit(36.5, mask=UNMASKED), Context(), rules(mask={"mode": "flag"}))
    assert decision.outcome == "allowed"
    assert decision.flags == (R.NO_MASK,) and decision.flagged
    assert decision.primary_reason == R.NO_MASK


def test_off_mode_ignores():
    decision = decide(visit(36.5, mask=UNMASKED), Context(), rules(mask={"mode": "off"}))
    assert decision.outcome == "allowed" and not decision.all_codes


def test_capacity_full_denies_only_when_limited():
    full = Context(occupancy=50)
    assert decide(visit(36.5), full, RulesConfig()).outcome == "allowed"
    decision = decide(visit(36.5), full, rules(capacity={"mode": "deny", "limit": 50}))
    assert decision.outcome == "denied" and decision.reasons == (R.CAPACITY_FULL,)
    assert decide(visit(36.5), Context(occupancy=49), rules(capacity={"mode": "deny", "limit": 50})).outcome == "allowed"


def test_faults():
    scanner_down = decide(visit(scanner_down=True), Context(), RulesConfig())
    assert scanner_down.outcome == "denied" and scanner_down.reasons == (R.SCANNER_FAULT,)
    camera_down = decide(visit(36.5, mask=None, camera_down=True), Context(), RulesConfig())
    assert camera_down.outcome == "denied" and camera_down.reasons == (R.CAMERA_FAULT,)
    no_reading = decide(visit(), Context(), RulesConfig())
    assert no_reading.outcome == "remeasure" and no_reading.reasons == (R.NO_READING,)


def test_deny_outranks_remeasure_and_reasons_are_ordered():
    decision = decide(visit(33.0, mask=UNMASKED), Context(), RulesConfig())
    assert decision.outcome == "denied"
    assert decision.reasons == (R.NO_MASK, R.IMPLAUSIBLE)


def test_rules_in_force_are_recorded():
    decision = decide(visit(36.5), Context(), rules(fever={"threshold_c": 37.5}))
    assert json.loads(decision.rules)["fever"]["threshold_c"] == 37.5


def test_decide_is_pure():
    v, r = visit(37.4), RulesConfig()
    assert decide(v, Context(), r) == decide(v, Context(), r)

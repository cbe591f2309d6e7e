import json

import pytest

from checkpoint import reasons as R
from checkpoint.config import RulesConfig
from checkpoint.mask_verdict import DEFAULT_MASK_THRESHOLD, DEFAULT_REFUSE_THRESHOLD
from checkpoint.messages import ThermalReading
from checkpoint.policy import Context, MaskSummary, Visit, decide

MASKED = MaskSummary({"mask": 0.96, "no_mask": 0.04}, 5)
UNMASKED = MaskSummary({"mask": 0.05, "no_mask": 0.95}, 5)
INCORRECT = MaskSummary({"mask": 0.2, "no_mask": 0.1, "mask_incorrect": 0.7}, 5)
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
    (INCORRECT, "denied", (R.MASK_INCORRECT,)),
    (UNSURE, "remeasure", (R.MASK_UNCERTAIN,)),
    (None, "remeasure", (R.NO_FACE,)),
])
def test_mask_rules(mask, outcome, codes):
    decision = decide(visit(36.5, mask=mask), Context(), RulesConfig())
    assert (decision.outcome, decision.reasons) == (outcome, codes)


@pytest.mark.parametrize("mask, verdict", [
    (MASKED, "mask"), (UNMASKED, "no_mask"), (INCORRECT, "mask_incorrect"), (UNSURE, "uncertain"), (None, None),
])
def test_decision_records_the_mask_verdict(mask, verdict):
    assert decide(visit(36.5, mask=mask), Context(), RulesConfig()).mask_class == verdict


def test_two_bare_classes_together_refuse_and_name_the_likelier():
    # Neither bare class alone reaches the refusal threshold, nor is any class the majority; together they refuse.
    split = MaskSummary({"mask": 0.4, "no_mask": 0.25, "mask_incorrect": 0.35}, 5)
    decision = decide(visit(36.5, mask=split), Context(), RulesConfig())
    assert (decision.outcome, decision.reasons, decision.mask_class) == (
        "denied", (R.MASK_INCORRECT,), "mask_incorrect")


def test_incorrect_mask_can_be_let_in_as_masked_but_flagged():
    decision = decide(visit(36.5, mask=INCORRECT), Context(), rules(mask={"incorrect_is_no_mask": False}))
    assert decision.outcome == "allowed" and not decision.reasons
    assert decision.flags == (R.MASK_INCORRECT,) and decision.primary_reason == R.MASK_INCORRECT
    assert decision.mask_class == "mask_incorrect"
    # A bare face is still refused with that setting, and mode "off" ignores the incorrect mask entirely.
    assert decide(visit(36.5, mask=UNMASKED), Context(), rules(mask={"incorrect_is_no_mask": False})).reasons \
        == (R.NO_MASK,)
    off = decide(visit(36.5, mask=INCORRECT), Context(), rules(mask={"incorrect_is_no_mask": False, "mode": "off"}))
    assert off.outcome == "allowed" and not off.all_codes


@pytest.mark.parametrize("p_mask, outcome, codes", [
    (0.95, "allowed", ()),
    (0.80, "allowed", ()),  # at the mask threshold
    (0.79, "remeasure", (R.MASK_UNCERTAIN,)),  # the uncertain band: not sure enough either way
    (0.60, "remeasure", (R.MASK_UNCERTAIN,)),
    (0.51, "remeasure", (R.MASK_UNCERTAIN,)),
    (0.50, "denied", (R.NO_MASK,)),  # p(no_mask) = 0.5 reaches the refusal threshold
    (0.10, "denied", (R.NO_MASK,)),
])
def test_uncertain_band_between_the_thresholds(p_mask, outcome, codes):
    summary = MaskSummary({"mask": p_mask, "no_mask": round(1 - p_mask, 4)}, 5)
    r = rules(mask={"mask_threshold": 0.8, "refuse_threshold": 0.5})
    decision = decide(visit(36.5, mask=summary), Context(), r)
    assert (decision.outcome, decision.reasons) == (outcome, codes)


def test_thresholds_come_from_the_rules():
    summary = MaskSummary({"mask": 0.7, "no_mask": 0.3}, 5)
    assert decide(visit(36.5, mask=summary), Context(), rules(mask={"mask_threshold": 0.9})).reasons \
        == (R.MASK_UNCERTAIN,)
    assert decide(visit(36.5, mask=summary), Context(), rules(mask={"mask_threshold": 0.65})).outcome == "allowed"
    assert decide(visit(36.5, mask=summary), Context(),
                  rules(mask={"mask_threshold": 0.9, "refuse_threshold": 0.3})).reasons == (R.NO_MASK,)
    defaults = RulesConfig().mask
    assert (defaults.mask_threshold, defaults.refuse_threshold) == (DEFAULT_MASK_THRESHOLD, DEFAULT_REFUSE_THRESHOLD)


def turned(probs, *yaws):
    return MaskSummary(probs, len(yaws), yaw_deg=yaws)


def test_a_face_seen_only_in_profile_is_asked_to_face_the_camera():
    # Even a clear "mask" from the side is not judged: the nose and mouth cannot be seen.
    for probs in (MASKED.probs, UNMASKED.probs):
        decision = decide(visit(36.5, mask=turned(probs, 70.0, 62.0, 50.0)), Context(), RulesConfig())
        assert (decision.outcome, decision.reasons, decision.mask_class) == ("remeasure", (R.FACE_TURNED,), "uncertain")


def test_one_frontal_enough_frame_lets_the_mask_be_judged():
    assert decide(visit(36.5, mask=turned(MASKED.probs, 70.0, 44.0, 60.0)), Context(), RulesConfig()).outcome \
        == "allowed"
    decision = decide(visit(36.5, mask=turned(UNMASKED.probs, 70.0, 45.0)), Context(), RulesConfig())
    assert decision.reasons == (R.NO_MASK,)  # 45 is within the default max_yaw_deg
    # Frames without a pose count as frontal (a detector that gives none keeps today's behaviour).
    assert decide(visit(36.5, mask=turned(MASKED.probs, 80.0, None)), Context(), RulesConfig()).outcome == "allowed"


def test_max_yaw_comes_from_the_rules():
    summary = turned(MASKED.probs, 35.0, 38.0)
    assert decide(visit(36.5, mask=summary), Context(), RulesConfig()).outcome == "allowed"
    decision = decide(visit(36.5, mask=summary), Context(), rules(face={"max_yaw_deg": 30}))
    assert decision.reasons == (R.FACE_TURNED,)
    assert json.loads(decision.rules)["face"]["max_yaw_deg"] == 30


def test_face_rule_modes_for_a_turned_face():
    profile_bare = turned(UNMASKED.probs, 75.0)
    off = decide(visit(36.5, mask=profile_bare), Context(), rules(face={"mode": "off"}))
    assert off.reasons == (R.NO_MASK,)  # the face rule ignored: the mask is judged as seen
    flag = decide(visit(36.5, mask=profile_bare), Context(), rules(face={"mode": "flag"}))
    assert flag.outcome == "denied" and flag.reasons == (R.NO_MASK,) and flag.flags == (R.FACE_TURNED,)


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
    below = decide(visit(36.5), Context(occupancy=49), rules(capacity={"mode": "deny", "limit": 50}))
    assert below.outcome == "allowed"


def test_a_high_first_reading_asks_for_a_retest_even_when_the_building_is_full():
    full, capacity = Context(occupancy=50), {"mode": "deny", "limit": 50, "scope": "building"}
    for temp in (37.7, 37.8):
        decision = decide(visit(temp), full, rules(capacity=capacity))
        assert decision.outcome == "remeasure" and decision.reasons == (R.FEVER_RETEST, R.CAPACITY_FULL)
        assert decision.primary_reason == R.FEVER_RETEST  # the screen asks to rest and re-test first
    # the re-test itself: a confirmed fever is a denial, whatever the occupancy
    confirmed = decide(visit(37.8, is_retest=True), full, rules(capacity=capacity))
    assert confirmed.outcome == "denied" and confirmed.reasons == (R.FEVER, R.CAPACITY_FULL)
    # a re-test request never lets anyone in past another denial
    unmasked = decide(visit(37.8, mask=UNMASKED), full, rules(capacity=capacity))
    assert unmasked.outcome == "denied" and unmasked.reasons == (R.NO_MASK, R.FEVER_RETEST, R.CAPACITY_FULL)
    # a normal reading while full still waits
    assert decide(visit(36.6), full, rules(capacity=capacity)).reasons == (R.CAPACITY_FULL,)


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

"""The mask verdict: class probabilities -> mask / no_mask / mask_incorrect / uncertain.

One pure function shared by the policy (on a visitor's smoothed
probabilities) and by ``mask eval`` (on one photo), so the figures in the
model card are the gate's own behaviour. The operating point leans to safety:
letting a bare face in defeats the checkpoint, while asking a masked visitor
to face the camera again costs seconds. So ``mask`` needs p(mask) of at least
``mask_threshold``; a refusal needs p(no_mask) + p(mask_incorrect) of at least
``refuse_threshold``; anything between is ``uncertain`` (measure again).
"""

from __future__ import annotations

from typing import Mapping

from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, UNCERTAIN

# Chosen on validation (drivers/mask/models/MODEL_CARD.md, "Operating point").
DEFAULT_MASK_THRESHOLD = 0.6
DEFAULT_REFUSE_THRESHOLD = 0.5


def mask_verdict(probs: Mapping[str, float], mask_threshold: float = DEFAULT_MASK_THRESHOLD,
                 refuse_threshold: float = DEFAULT_REFUSE_THRESHOLD) -> str:
    """MASK, NO_MASK, MASK_INCORRECT or UNCERTAIN for one set of probabilities.

    A refusal names the likelier of the two bare classes; a model that knows
    only mask / no_mask gives NO_MASK."""
    if not probs:
        return UNCERTAIN
    p_mask = float(probs.get(MASK, 0.0))
    p_none = float(probs.get(NO_MASK, 0.0))
    p_incorrect = float(probs.get(MASK_INCORRECT, 0.0))
    if p_mask >= mask_threshold and p_mask > p_none + p_incorrect:
        return MASK
    if p_none + p_incorrect >= refuse_threshold:
        return MASK_INCORRECT if p_incorrect > p_none else NO_MASK
    return UNCERTAIN

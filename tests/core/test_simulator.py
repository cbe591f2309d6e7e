"""The demo's simulated visitors: three-class probabilities, and each kind decided as the demo means it."""

import pytest

from checkpoint import reasons as R
from checkpoint.agent import Agent
from checkpoint.clock import ManualClock
from checkpoint.config import load_settings
from checkpoint.messages import MASK_CLASSES, MaskObservation, ThermalReading
from checkpoint.simulator import KINDS, VisitorSimulator

T0 = 1_800_000_000.0
EXPECTED = {
    "normal": ("allowed", ""),
    "no mask": ("denied", R.NO_MASK),
    "mask below the nose": ("denied", R.MASK_INCORRECT),
    "in profile": ("remeasure", R.FACE_TURNED),
}


class Sink:
    def submit(self, row):
        pass


class NoWait:
    """Stands in for the simulator's stop event so frames come without real sleeps."""

    def is_set(self):
        return False

    def wait(self, timeout=None):
        return False


def frames_of(kind, seed=3):
    clock = ManualClock(T0)
    out = []

    def put(item):
        out.append(item)
        clock.advance(0.1)

    simulator = VisitorSimulator(scanner=None, put=put, clock=clock, fps=10, seed=seed)
    simulator._stop = NoWait()
    simulator._frames(kind, 2.4)
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_simulated_kind_gets_the_decision_the_demo_shows(name):
    [kind] = [k for k in KINDS if k.name == name]
    assert kind.weight > 0  # the demo shows it
    frames = frames_of(kind)
    assert len(frames) == 24 and all(isinstance(f, MaskObservation) and f.has_face for f in frames)
    for frame in frames:
        assert set(frame.probs) == set(MASK_CLASSES) and sum(frame.probs.values()) == pytest.approx(1.0, abs=0.01)
    agent = Agent(load_settings(environ={}), Sink())
    decided = [entry for frame in frames[:8] for entry in agent.handle(frame)]
    decided += agent.handle(ThermalReading(frames[8].t, kind.temperature, kind.temperature))
    assert [(e.outcome, e.reasons) for e in decided] == [EXPECTED[name]]


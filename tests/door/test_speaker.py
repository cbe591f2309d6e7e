"""The gate's own speaker: each decision's prompt goes to a real player process (a stand-in script that
writes down what it was asked to play), a decision never waits for it, and a missing player is a fault of
the speaker on the health panel, not of the gate."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from polling import wait_until

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.health import DOWN, OK
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, Box, MaskObservation
from checkpoint.reasons import voice_key
from checkpoint.runtime import AgentRuntime

MASKED = {MASK: 0.96, NO_MASK: 0.02, MASK_INCORRECT: 0.02}
BARE = {MASK: 0.03, NO_MASK: 0.94, MASK_INCORRECT: 0.03}
PLAYER = """import pathlib, sys, time
time.sleep(float(sys.argv[2]))
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(sys.argv[-1] + "\\n")
"""


def visitor(runtime, probs) -> None:
    for _ in range(6):
        runtime.put(MaskObservation(runtime.clock.now(), Box(200, 120, 160, 160), probs, faces_in_frame=1,
                                    frame_size=(640, 480)))
        time.sleep(0.05)


def gate(tmp_path, command: str, language: str = "id") -> AgentRuntime:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": "east"},
        "scanner": {"enabled": False}, "camera": {"source": "simulated"},
        "visits": {"episode_gap_s": 0.3, "gap_s": 0.6, "face_wait_s": 0.2},
        "database": {"url": f"sqlite:///{tmp_path / 'gate.db'}"},
        "visitor": {"speaker": True, "speaker_command": command, "voice_language": language},
    })
    return AgentRuntime(settings, engine=open_database(settings.database_url), heartbeat_s=0.2).start()


def test_voice_key_is_the_visitor_screens_rule():
    assert voice_key("allowed", ["no_mask"]) == "welcome"  # let in, flagged: welcomed all the same
    assert voice_key("denied", ["mask_below_nose"]) == "mask_incorrect"  # a legacy code speaks as its new one
    assert voice_key("denied", []) == "closed"


@pytest.mark.slow
def test_each_decision_plays_its_prompt_without_waiting_for_the_player(tmp_path):
    played = tmp_path / "played.txt"
    player = tmp_path / "player.py"
    player.write_text(PLAYER, encoding="utf-8")
    runtime = gate(tmp_path, f"{sys.executable} {player} {played} 3.0", language="both")  # 3 s per prompt
    try:
        visitor(runtime, MASKED)
        assert wait_until(lambda: runtime.agent.changes >= 1, 5)
        time.sleep(0.7)
        visitor(runtime, BARE)
        # the next visitor is decided while the first prompt still plays: decisions do not wait for the player
        assert wait_until(lambda: runtime.agent.changes >= 2, 5)
        assert not played.is_file(), "the decisions waited for the player"
        assert wait_until(lambda: played.is_file() and len(played.read_text().split()) >= 4, 25)
        files = [Path(p) for p in played.read_text().split()]
        assert [(f.parent.name, f.name) for f in files] == [("id", "welcome.ogg"), ("en", "welcome.ogg"),
                                                           ("id", "no_mask.ogg"), ("en", "no_mask.ogg")]
        assert all(f.is_file() and f.stat().st_size > 1000 for f in files)  # the shipped recordings
        assert runtime.health.get("speaker").state == OK
    finally:
        runtime.stop()


@pytest.mark.slow
def test_a_missing_player_is_a_speaker_fault_and_the_gate_goes_on(tmp_path):
    runtime = gate(tmp_path, "no-such-player-7f3a --quiet")
    try:
        visitor(runtime, MASKED)
        assert wait_until(lambda: runtime.health.get("speaker").state == DOWN, 5)
        assert "no-such-player-7f3a" in runtime.health.get("speaker").message
        assert wait_until(lambda: runtime.agent.changes >= 1, 5)  # the visitor was decided and logged
    finally:
        runtime.stop()

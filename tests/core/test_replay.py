"""Every committed session fixture replays through the real agent to exactly its expected decisions."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from checkpoint.db import make_engine
from checkpoint.models import Entry
from checkpoint.replay import differences, load_session, replay

SESSIONS = Path(__file__).resolve().parent.parent / "fixtures" / "sessions"
ALL = sorted(p.name for p in SESSIONS.iterdir() if (p / "session.toml").is_file())


def test_there_are_at_least_ten_sessions():
    assert len(ALL) >= 10


@pytest.mark.parametrize("name", ALL)
def test_session_replays_to_expected_decisions(name, tmp_path):
    session = load_session(SESSIONS / name)
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    result = replay(session, url)
    assert differences(session.expected, result.decisions) == []
    assert len(result.decisions) == len(session.expected)
    # what was decided is what the log holds
    engine = make_engine(url)
    with Session(engine) as db:
        rows = db.exec(select(Entry).order_by(Entry.decided_at)).all()
    engine.dispose()
    assert [r.outcome for r in rows] == [d["outcome"] for d in session.expected]
    assert result.committed >= len(rows)


def test_replay_is_deterministic(tmp_path):
    session = load_session(SESSIONS / "scanner-unplugged")
    first = replay(session, f"sqlite:///{tmp_path / 'a.db'}").decisions
    second = replay(session, f"sqlite:///{tmp_path / 'b.db'}").decisions
    assert first == second


@pytest.mark.slow
def test_check_fails_on_a_changed_expectation(tmp_path):
    copy = tmp_path / "session"
    shutil.copytree(SESSIONS / "no-mask", copy)
    expected = json.loads((copy / "expected.json").read_text())
    expected[1]["outcome"] = "allowed"
    (copy / "expected.json").write_text(json.dumps(expected))
    result = subprocess.run([sys.executable, "-m", "checkpoint", "replay", str(copy), "--check", "--json",
                             "--log-level", "warning"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "#2 outcome: expected 'allowed', got 'denied'" in result.stderr
    assert json.loads(result.stdout)["decisions"][1]["reasons"] == ["no_mask"]


@pytest.mark.slow
def test_check_passes_from_the_command_line():
    result = subprocess.run([sys.executable, "-m", "checkpoint", "replay", str(SESSIONS / "capacity-full"),
                             "--check", "--log-level", "warning"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "4 decisions match expected.json" in result.stderr


@pytest.mark.slow
def test_the_readmes_replay_command_replays_every_session():
    """`checkpoint replay tests/fixtures/sessions/* --check`, exactly as the README writes it, from the
    repository's root: the glob also names make_sessions.py, which is skipped with a note."""
    root = SESSIONS.parents[2]
    command = "checkpoint replay tests/fixtures/sessions/* --check"
    assert f"`{command}`" in (root / "README.md").read_text(encoding="utf-8")
    checkpoint = Path(sys.executable).with_name("checkpoint")
    runner = str(checkpoint) if checkpoint.exists() else f"{sys.executable} -m checkpoint"
    result = subprocess.run(command.replace("checkpoint", runner, 1), shell=True, cwd=root, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    matched = [line for line in result.stderr.splitlines() if line.endswith("match expected.json")]
    assert len(matched) == len(ALL) == 12
    assert "make_sessions.py: skipped, not a session fixture" in result.stderr


@pytest.mark.slow
def test_a_path_that_is_no_session_alone_is_an_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "checkpoint", "replay", str(tmp_path), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a session fixture" in result.stderr
    result = subprocess.run([sys.executable, "-m", "checkpoint", "replay", str(tmp_path), str(tmp_path / "x.py"),
                             "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "none of the paths is a session fixture" in result.stderr

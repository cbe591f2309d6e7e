"""Replay of recorded sessions through the real agent.

A session fixture is a directory:

- ``session.toml``: ``[session]`` with ``start`` (ISO time of recording zero),
  ``description``, ``scanner`` (a serial capture file, replayed through the
  real parser) and ``camera`` (recorded mask observations, JSON lines);
- ``config.toml``: the gate's configuration, as on the gate;
- ``expected.json``: the decisions the replay must reproduce.

Camera lines: ``{"t": 1.2, "face": [x, y, w, h], "probs": {"mask": 0.97, ...}}``,
``{"t": 1.3, "face": null}``, ``{"t": 9, "event": "exit"}`` and
``{"t": 4, "event": "camera", "state": "down", "message": "..."}``; ``t`` in
seconds from the start. Replay drives a manual clock through the events and
the tracker's own deadlines, so the same session always decides the same way,
as fast as the machine allows or at a chosen speed.
"""

from __future__ import annotations

import heapq
import json
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional

from checkpoint.agent import Agent, Event, Occupancy
from checkpoint.clock import ManualClock
from checkpoint.config import Settings, load_settings
from checkpoint.db import open_database
from checkpoint.messages import Box, ExitEvent, MaskObservation, SensorStatus
from checkpoint.models import Entry
from checkpoint.recorder import Recorder

COMPARED = ("t", "outcome", "reasons", "body_c", "mask", "local_date")


class SessionError(Exception):
    pass


@dataclass
class Session:
    path: Path
    description: str
    start: float
    settings: Settings
    scanner: Optional[Path]
    camera: Optional[Path]
    expected: Optional[list[dict]]


def load_session(path: str | Path, environ: Optional[dict] = None) -> Session:
    root = Path(path)
    meta_file = root / "session.toml"
    if not meta_file.is_file():
        raise SessionError(f"{root}: not a session fixture (no session.toml)")
    try:
        meta = tomllib.loads(meta_file.read_text(encoding="utf-8")).get("session", {})
        start = datetime.fromisoformat(meta["start"]).timestamp()
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise SessionError(f"{meta_file}: needs [session] start = ISO time with offset ({exc})") from exc
    config = root / "config.toml"
    settings = load_settings(config if config.is_file() else None, environ=environ or {})
    expected_file = root / "expected.json"
    return Session(
        path=root,
        description=meta.get("description", ""),
        start=start,
        settings=settings,
        scanner=root / meta["scanner"] if meta.get("scanner") else None,
        camera=root / meta["camera"] if meta.get("camera") else None,
        expected=json.loads(expected_file.read_text(encoding="utf-8")) if expected_file.is_file() else None,
    )


def camera_events(path: Path, t0: float) -> Iterator[Event]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                item = json.loads(line)
                t = t0 + float(item["t"])
                kind = item.get("event")
                if kind == "exit":
                    yield ExitEvent(t, item.get("source", "sensor"))
                elif kind in ("camera", "scanner"):
                    yield SensorStatus(t, kind, item["state"], item.get("message", ""))
                else:
                    face = item.get("face")
                    yield MaskObservation(
                        t=t,
                        box=Box(*face) if face else None,
                        probs=item.get("probs", {}) if face else {},
                        faces_in_frame=1 if face else 0,
                    )
            except (KeyError, TypeError, ValueError) as exc:
                raise SessionError(f"{path}:{number}: bad camera line ({exc})") from exc


def scanner_events(session: Session) -> Iterator[Event]:
    if session.scanner is None:
        return iter(())
    from drivers.thermal.replay import iter_recording

    return iter_recording(session.scanner, session.settings.scanner, session.start)


def session_events(session: Session) -> Iterator[Event]:
    streams = [scanner_events(session)]
    if session.camera is not None:
        streams.append(camera_events(session.camera, session.start))
    return heapq.merge(*streams, key=lambda event: event.t)


def summarize(entry: Entry, start: float) -> dict:
    return {
        "t": round(entry.decided_at.timestamp() - start, 3),
        "outcome": entry.outcome,
        "reasons": [code for code in entry.reasons.split(",") if code],
        "body_c": entry.body_c,
        "mask": entry.mask_class,
        "local_date": entry.local_date,
    }


@dataclass
class ReplayResult:
    decisions: list[dict]
    events: int
    recorded_s: float
    wall_s: float
    committed: int

    @property
    def speedup(self) -> float:
        return self.recorded_s / self.wall_s if self.wall_s > 0 else float("inf")


def replay(session: Session, database_url: str, speed: Optional[float] = None,
           tail_s: float = 60.0) -> ReplayResult:
    """Run the agent on a session into ``database_url``; ``speed`` None is as fast as possible."""
    clock = ManualClock(session.start)
    engine = open_database(database_url)
    recorder = Recorder(engine, clock=clock.now).start()
    agent = Agent(session.settings, recorder, Occupancy(session.settings.zone))
    entries: list[Entry] = []
    events = session_events(session)
    wall0 = time.perf_counter()
    count = 0
    last_t = session.start

    def advance(to: float) -> None:
        if speed:
            lag = (to - session.start) / speed - (time.perf_counter() - wall0)
            if lag > 0:
                time.sleep(lag)
        clock.set(to)

    def run_deadlines(until: float) -> None:
        for _ in range(100_000):
            deadline = agent.next_deadline()
            if deadline is None or deadline > until:
                return
            advance(deadline)
            entries.extend(agent.tick(deadline))
        raise SessionError("visit tracker did not settle")

    try:
        for event in events:
            run_deadlines(event.t)
            advance(event.t)
            entries.extend(agent.handle(event))
            count += 1
            last_t = event.t
        run_deadlines(last_t + tail_s)
        if not recorder.flush(timeout=30):
            raise SessionError("the recorder could not write the decisions")
    finally:
        recorder.stop()
        engine.dispose()
    wall = time.perf_counter() - wall0
    return ReplayResult(
        decisions=[summarize(entry, session.start) for entry in entries],
        events=count,
        recorded_s=max(last_t - session.start, 0.0),
        wall_s=wall,
        committed=recorder.committed,
    )


def differences(expected: list[dict], actual: list[dict]) -> list[str]:
    """Human-readable differences between expected and replayed decisions."""
    problems = []
    for index in range(max(len(expected), len(actual))):
        want = expected[index] if index < len(expected) else None
        got = actual[index] if index < len(actual) else None
        if want is None:
            problems.append(f"#{index + 1}: unexpected decision {json.dumps(got)}")
        elif got is None:
            problems.append(f"#{index + 1}: missing decision {json.dumps(want)}")
        else:
            for key in COMPARED:
                if key in want and want[key] != got.get(key):
                    problems.append(f"#{index + 1} {key}: expected {want[key]!r}, got {got.get(key)!r}")
    return problems

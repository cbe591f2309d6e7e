"""`checkpoint replay DIR`: run the real agent on a recorded session."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

NAME = "replay"
HELP = "replay a recorded session (scanner capture + camera observations) through the agent"
DESCRIPTION = """Replay a session fixture through the real agent into a fresh database.

  checkpoint replay tests/fixtures/sessions/normal-entries --fast --json
  checkpoint replay DIR --check        # exit 1 on any difference from expected.json
  checkpoint replay tests/fixtures/sessions/* --check   # every session; other paths skipped with a note

A session directory holds session.toml, config.toml, a scanner capture, camera
observations (JSON lines) and expected.json (see checkpoint/replay.py)."""


def configure(parser) -> None:
    parser.add_argument("session", nargs="+", help="session fixture directory (several allowed)")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--fast", action="store_true", help="as fast as possible (default)")
    speed.add_argument("--speed", type=float, metavar="N", help="N times real time (1 = real time)")
    parser.add_argument("--json", action="store_true", help="print decisions as JSON")
    parser.add_argument("--check", action="store_true", help="compare with expected.json; exit 1 on a difference")
    parser.add_argument("--database", metavar="URL", help="database to write (default: a fresh temporary SQLite file)")
    parser.add_argument("--write-expected", action="store_true", help="store the decisions as expected.json")


def run(args) -> int:
    from checkpoint.replay import SessionError, differences, load_session, replay

    failed, replayed = False, 0
    several = len(args.session) > 1
    for directory in args.session:
        if several and not (Path(directory) / "session.toml").is_file():
            # a glob such as sessions/* also names make_sessions.py (or __pycache__): not sessions, skipped
            print(f"checkpoint replay: {directory}: skipped, not a session fixture (no session.toml)",
                  file=sys.stderr)
            continue
        replayed += 1
        try:
            session = load_session(directory)
            with tempfile.TemporaryDirectory(prefix="checkpoint-replay-") as tmp:
                url = args.database or f"sqlite:///{Path(tmp) / 'replay.db'}"
                result = replay(session, url, speed=args.speed)
        except SessionError as exc:
            print(f"checkpoint replay: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({"session": str(directory), "decisions": result.decisions, "events": result.events,
                              "recorded_s": round(result.recorded_s, 3), "wall_s": round(result.wall_s, 4),
                              "speedup": round(result.speedup, 1)}, ensure_ascii=False))
        else:
            print(f"{directory}: {len(result.decisions)} decisions from {result.events} events, "
                  f"{result.recorded_s:.1f} s recorded in {result.wall_s:.3f} s ({result.speedup:.0f}x)")
            for d in result.decisions:
                print(f"  {d['t']:9.3f}s  {d['outcome']:<9} {','.join(d['reasons']) or '-':<28} "
                      f"{d['body_c'] if d['body_c'] is not None else '-':>6}  {d['mask'] or '-'}")
        if args.write_expected:
            keep = [{k: d[k] for k in ("t", "outcome", "reasons", "body_c", "mask")} for d in result.decisions]
            (Path(directory) / "expected.json").write_text(json.dumps(keep, indent=1) + "\n", encoding="utf-8")
        if args.check:
            if session.expected is None:
                print(f"{directory}: no expected.json to check against", file=sys.stderr)
                failed = True
                continue
            problems = differences(session.expected, result.decisions)
            for problem in problems:
                print(f"{directory}: {problem}", file=sys.stderr)
            failed = failed or bool(problems)
            if not problems:
                print(f"{directory}: {len(result.decisions)} decisions match expected.json", file=sys.stderr)
    if not replayed:
        print("checkpoint replay: none of the paths is a session fixture", file=sys.stderr)
        return 2
    return 1 if failed else 0

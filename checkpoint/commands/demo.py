"""`checkpoint demo`: the whole product on this machine, no hardware needed."""

from __future__ import annotations

from typing import Any

NAME = "demo"
HELP = "run everything with a virtual scanner and simulated visitors; dashboard on http://127.0.0.1:5000"
DESCRIPTION = """Start the full pipeline on the embedded SQLite database: a virtual thermal
scanner on a pseudo-terminal read by the real serial driver, simulated visitors
in front of a simulated camera, the decision rules, the recorder and the web app.
A virtual LCUS relay board on another pseudo-terminal stands for the door: the
real relay driver pulses it open on every allowed entry, and each change is
printed. The visitor's own screen is at /visitor.

The entry screen opens without login (kiosk mode); a demo administrator is
created on the first run and its password is printed once."""


def configure(parser) -> None:
    parser.add_argument("--port", type=int, default=None, help="web port (default 5000)")
    parser.add_argument("--interval", type=float, default=6.0, help="seconds between simulated visitors")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the simulated visitors")


def _door_changed(channel: int, on: bool) -> None:
    import time

    state = "OPEN" if on else "locked"
    print(f"{time.strftime('%H:%M:%S')} door {state} (virtual relay, channel {channel})", flush=True)


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.config import LcusRelay
    from checkpoint.service import run_demo
    from drivers.door.virtual import VirtualRelay

    relay = VirtualRelay("lcus", on_change=_door_changed)
    path = relay.start()
    overrides: dict[str, dict[str, Any]] = {"camera": {"source": "simulated"}, "web": {"kiosk": True}}
    if args.port:
        overrides["web"]["port"] = args.port
    try:
        settings = settings_from_args(args, overrides=overrides)
        # the demo's door is the virtual relay, whatever relay the file names (its open_s is kept)
        settings.door = settings.door.model_copy(update={"mode": "pulse", "relay": LcusRelay(url=path, channel=1)})
        print(f"Virtual door relay (LCUS) on {path}; visitor screen at /visitor", flush=True)
        return run_demo(settings, interval_s=args.interval, seed=args.seed)
    finally:
        relay.stop()

"""`checkpoint demo`: the whole product on this machine, no hardware needed."""

from __future__ import annotations

NAME = "demo"
HELP = "run everything with a virtual scanner and simulated visitors; dashboard on http://127.0.0.1:5000"
DESCRIPTION = """Start the full pipeline on the embedded SQLite database: a virtual thermal
scanner on a pseudo-terminal read by the real serial driver, simulated visitors
in front of a simulated camera, the decision rules, the recorder and the web app.

The entry screen opens without login (kiosk mode); a demo administrator is
created on the first run and its password is printed once."""


def configure(parser) -> None:
    parser.add_argument("--port", type=int, default=None, help="web port (default 5000)")
    parser.add_argument("--interval", type=float, default=6.0, help="seconds between simulated visitors")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the simulated visitors")


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.service import run_demo

    overrides = {"camera": {"source": "simulated"}, "web": {"kiosk": True}}
    if args.port:
        overrides["web"]["port"] = args.port
    settings = settings_from_args(args, overrides=overrides)
    return run_demo(settings, interval_s=args.interval, seed=args.seed)

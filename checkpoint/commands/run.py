"""`checkpoint run`: agent and web app in one process (the single-gate default)."""

from __future__ import annotations

NAME = "run"
HELP = "run the agent and the web app in one process (single gate)"
DESCRIPTION = """Run the agent and the web app together: the default for a single entrance.
The screen is served on [web] host:port (default http://127.0.0.1:5000)."""


def configure(parser) -> None:
    pass


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.service import run_until_signal

    return run_until_signal(settings_from_args(args), with_agent=True, with_web=True)

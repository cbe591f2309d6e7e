"""`checkpoint agent`: the gate agent alone (scanner + camera + decisions + log)."""

from __future__ import annotations

NAME = "agent"
HELP = "run the gate agent only (no web app)"
DESCRIPTION = """Run the agent for one entrance: read the thermal scanner and the camera,
decide for each visitor and write the entry log. Stops on Ctrl-C or SIGTERM,
writing what is pending first. Use `checkpoint web` for the screen."""


def configure(parser) -> None:
    pass


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.service import run_until_signal

    return run_until_signal(settings_from_args(args), with_agent=True, with_web=False)

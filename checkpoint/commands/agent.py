"""`checkpoint agent`: the gate agent alone (scanner + camera + decisions + log)."""

from __future__ import annotations

NAME = "agent"
HELP = "run the gate agent only (no web app)"
DESCRIPTION = """Run the agent for one entrance: read the thermal scanner and the camera,
decide for each visitor and write the entry log. Stops on Ctrl-C or SIGTERM,
writing what is pending first. Use `checkpoint web` for the screen.
Simulated devices (the configuration's defaults) need --simulate."""


def configure(parser) -> None:
    from checkpoint.cli import add_simulate_option

    add_simulate_option(parser)


def run(args) -> int:
    from checkpoint.cli import gate_settings_from_args
    from checkpoint.service import run_until_signal

    return run_until_signal(gate_settings_from_args(args, "agent"), with_agent=True, with_web=False)

"""`checkpoint run`: agent and web app in one process (the single-gate default)."""

from __future__ import annotations

NAME = "run"
HELP = "run the agent and the web app in one process (single gate)"
DESCRIPTION = """Run the agent and the web app together: the default for a single entrance.
The screen is served on [web] host:port (default http://127.0.0.1:5000).
It refuses a configuration whose scanner, camera or door relay is simulated
(the defaults: virtual scanner, simulated camera, virtual relay) unless
--simulate is given; `checkpoint demo` is the simulated gate."""


def configure(parser) -> None:
    from checkpoint.cli import add_simulate_option

    add_simulate_option(parser)


def run(args) -> int:
    from checkpoint.cli import gate_settings_from_args
    from checkpoint.service import run_until_signal

    return run_until_signal(gate_settings_from_args(args, "run"), with_agent=True, with_web=True)

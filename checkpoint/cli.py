"""The `checkpoint` command line: a frame that loads one module per subcommand.

Each module in ``checkpoint.commands`` defines ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int``; heavy imports stay inside
``run`` so that ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Optional, Sequence

from checkpoint import __version__
from checkpoint.config import ConfigError, load_settings

COMMAND_MODULES = (
    "run",
    "agent",
    "web",
    "demo",
    "init_db",
    "replay",
    "record",
    "scanner",
    "mask",
    "camera",
    "user",
    "config_cmd",
    "purge",
    "calibrate",
)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format=LOG_FORMAT, stream=sys.stderr, force=True)
    if level.lower() != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise


def common_options(nested: bool = False) -> argparse.ArgumentParser:
    """The options every command takes. ``nested`` is for a command's own sub-commands
    (e.g. `checkpoint mask eval`): no defaults there, so they do not overwrite the command's."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", metavar="FILE",
                        default=argparse.SUPPRESS if nested else None,
                        help="TOML configuration file (default: none, built-in defaults)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        default=argparse.SUPPRESS if nested else "info", help="logging level (default: info)")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="checkpoint",
        description="Entry screening for public service buildings: thermal scanner + mask camera + entry log.",
    )
    parser.add_argument("--version", action="version", version=f"checkpoint {__version__}")
    common = common_options()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"checkpoint.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"checkpoint.commands.{name}":
                continue  # this part of the product is not installed
            raise
        command = sub.add_parser(module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                                 parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(command)
        command.set_defaults(handler=module.run)
    return parser


def settings_from_args(args: argparse.Namespace, overrides: Optional[dict] = None):
    """Load settings named by --config; config errors exit with status 2."""
    try:
        return load_settings(getattr(args, "config", None), overrides=overrides)
    except ConfigError as exc:
        print(f"checkpoint: configuration error\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def add_simulate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--simulate", action="store_true",
                        help="start even where the configuration names simulated devices (the virtual scanner, the "
                             "simulated camera, the virtual relay); every screen shows a SIMULATED banner")


def gate_settings_from_args(args: argparse.Namespace, command: str):
    """Settings for a command that runs a gate: refused (exit 2) on simulated devices without --simulate."""
    from checkpoint.simulated import refusal

    settings = settings_from_args(args)
    reason = "" if getattr(args, "simulate", False) else refusal(settings)
    if reason:
        print(f"checkpoint {command}: {reason}", file=sys.stderr)
        raise SystemExit(2)
    return settings


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from checkpoint.db import SchemaNotReady

        if isinstance(exc, SchemaNotReady):  # a database this process does not own is not migrated yet
            print(f"checkpoint: {exc}", file=sys.stderr)
            return 1
        raise

"""`checkpoint config check FILE`: validate a configuration and print the effective settings."""

from __future__ import annotations

import sys

NAME = "config"
HELP = "validate a configuration file and print the effective settings"
DESCRIPTION = """Validate a configuration file.

  checkpoint config check FILE

prints the effective settings (file + CHECKPOINT_* environment overrides +
defaults, the scanner protocol's options included) as TOML with secrets
masked. Exits 2 naming each unknown key or bad value, with its line in the
file or the environment variable that set it: an unknown scanner protocol, an
option the protocol does not have or a bad value for one, a threshold finer
than 0.1 °C. Exits 2 as well, naming them, where the scanner, camera or
door relay is simulated (`checkpoint run` and `checkpoint agent` refuse them
too) unless --simulate says that is meant.

An environment variable sets a key by its path, dots as underscores:
CHECKPOINT_DATABASE_URL, CHECKPOINT_RULES_FEVER_THRESHOLD_C=37.5,
CHECKPOINT_SCANNER_OPTIONS_SLAVE=2, CHECKPOINT_CAMERA_ROI="[0.2, 0.1, 0.6, 0.8]"."""


def configure(parser) -> None:
    parser.add_argument("action", choices=["check"], help="what to do")
    parser.add_argument("file", nargs="?", help="configuration file (default: --config)")
    from checkpoint.cli import add_simulate_option

    add_simulate_option(parser)


def run(args) -> int:
    from checkpoint.config import ConfigError, effective_toml, load_settings
    from checkpoint.simulated import refusal

    path = args.file or args.config
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"checkpoint: configuration error\n{exc}", file=sys.stderr)
        return 2
    sys.stdout.write(effective_toml(settings))
    reason = "" if args.simulate else refusal(settings)
    if reason:
        print(f"checkpoint config check: {reason}\n# {path or '<defaults>'}: `checkpoint run` and `checkpoint agent` "
              f"refuse it without --simulate", file=sys.stderr)
        return 2
    print(f"# {path or '<defaults>'}: configuration is valid", file=sys.stderr)
    return 0

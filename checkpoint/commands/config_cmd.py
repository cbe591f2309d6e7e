"""`checkpoint config check FILE`: validate a configuration and print the effective settings."""

from __future__ import annotations

import sys

NAME = "config"
HELP = "validate a configuration file and print the effective settings"
DESCRIPTION = """Validate a configuration file.

  checkpoint config check FILE

prints the effective settings (file + CHECKPOINT_* environment overrides +
defaults) as TOML with secrets masked. Exits 2 naming each unknown key or bad
value, with its line in the file."""


def configure(parser) -> None:
    parser.add_argument("action", choices=["check"], help="what to do")
    parser.add_argument("file", nargs="?", help="configuration file (default: --config)")


def run(args) -> int:
    from checkpoint.config import ConfigError, effective_toml, load_settings

    path = args.file or args.config
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"checkpoint: configuration error\n{exc}", file=sys.stderr)
        return 2
    sys.stdout.write(effective_toml(settings))
    print(f"# {path or '<defaults>'}: configuration is valid", file=sys.stderr)
    return 0

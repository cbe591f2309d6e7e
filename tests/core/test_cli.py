import subprocess
import sys

import pytest

from checkpoint.cli import COMMAND_MODULES, build_parser


def test_every_subcommand_has_real_help():
    parser = build_parser()
    names = parser._subparsers._group_actions[0].choices
    assert {"run", "agent", "web", "demo", "init-db", "replay", "record", "mask", "config", "user",
            "scanner", "purge"} <= set(names)
    assert len(names) == len(COMMAND_MODULES)
    for name, sub in names.items():
        text = sub.format_help()
        assert "--config" in text and "--log-level" in text, name
        assert len(sub.description or "") > 30, f"{name} needs a description"


@pytest.mark.parametrize("command", [["--help"], ["demo", "--help"], ["replay", "--help"]])
def test_help_exits_zero(command):
    result = subprocess.run([sys.executable, "-m", "checkpoint", *command], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert "usage: checkpoint" in result.stdout


@pytest.mark.slow
def test_init_db_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run([sys.executable, "-m", "checkpoint", "init-db", "--database", url],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "x.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"entry", "override", "exit", "gate_status", "app_user", "alembic_version"} <= tables


def test_common_options_work_after_a_nested_subcommand():
    parser = build_parser()
    args = parser.parse_args(["mask", "eval", "DIR", "--log-level", "warning", "-c", "gate.toml"])
    assert (args.log_level, args.config) == ("warning", "gate.toml")
    args = parser.parse_args(["mask", "--log-level", "debug", "eval", "DIR"])
    assert args.log_level == "debug"  # the nested parser does not overwrite it with a default
    assert parser.parse_args(["mask", "eval", "DIR"]).log_level == "info"

"""`checkpoint init-db`: create or migrate the entry log's schema."""

from __future__ import annotations

NAME = "init-db"
HELP = "create or upgrade the database schema (alembic upgrade head)"
DESCRIPTION = """Create the entry log's tables, or migrate them to the current schema.

Uses [database] url from the configuration (default: a SQLite file in the data
directory), or --database URL. Safe to run again: it only applies what is missing."""


def configure(parser) -> None:
    parser.add_argument("--database", metavar="URL", help="database URL (overrides the configuration)")


def run(args) -> int:
    from checkpoint.cli import settings_from_args
    from checkpoint.db import open_database

    settings = settings_from_args(args)
    url = args.database or settings.database_url
    engine = open_database(url)
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    engine.dispose()
    return 0

"""`checkpoint purge`: delete face images older than the retention period."""

from __future__ import annotations

NAME = "purge"
HELP = "delete stored face images older than [privacy] retention_days"
DESCRIPTION = """Delete stored face images older than [privacy] retention_days and clear their
paths in the entry log. Run it daily (a systemd timer or cron); the agent also
runs it once a day while face images are enabled."""


def configure(parser) -> None:
    parser.add_argument("--days", type=int, help="retention in days (default: [privacy] retention_days)")


def run(args) -> int:
    from datetime import datetime

    from checkpoint.cli import settings_from_args
    from checkpoint.db import open_database
    from checkpoint.faces import FaceStore

    settings = settings_from_args(args)
    engine = open_database(settings.database_url)
    today = datetime.now(settings.zone).date()
    removed = FaceStore(settings.data_path).purge(engine, args.days or settings.privacy.retention_days, today)
    engine.dispose()
    print(f"removed {removed} face images")
    return 0

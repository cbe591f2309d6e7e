"""`checkpoint purge`: delete face images and entries older than their retention periods."""

from __future__ import annotations

NAME = "purge"
HELP = "delete face images and entries older than their retention periods ([privacy])"
DESCRIPTION = """Delete stored face images older than [privacy] retention_days and clear their
paths in the entry log; with [privacy] entry_retention_days set (or --entry-days),
delete this gate's entries, their overrides and its exits of local days (in the
gate's time zone) more than that many days before today, keeping each day's
counts (daily_count) so the reports still show it. The agent does both once a
day by itself (the entries in its recorder, the log's one writer); run this for
a purge now, or daily from a timer where no agent runs (a central server: give
the gate's id with --gate)."""


def configure(parser) -> None:
    parser.add_argument("--days", type=int, help="face image retention in days (default: [privacy] retention_days)")
    parser.add_argument("--entry-days", type=int, metavar="DAYS",
                        help="entry retention in days (default: [privacy] entry_retention_days; 0 keeps them)")
    parser.add_argument("--gate", metavar="ID", help="the gate whose entries go (default: [gate] id)")


def run(args) -> int:
    import sys
    from datetime import datetime

    from checkpoint.cli import settings_from_args
    from checkpoint.db import open_database
    from checkpoint.faces import FaceStore
    from checkpoint.retention import purge_entries

    settings = settings_from_args(args)
    if args.days is not None and args.days < 1 or args.entry_days is not None and args.entry_days < 0:
        print("checkpoint purge: --days must be at least 1, --entry-days at least 0", file=sys.stderr)
        return 2
    engine = open_database(settings.database_url)
    try:
        today = datetime.now(settings.zone).date()
        removed = FaceStore(settings.data_path).purge(engine, args.days or settings.privacy.retention_days, today)
        print(f"removed {removed} face images")
        entry_days = settings.privacy.entry_retention_days if args.entry_days is None else args.entry_days
        if entry_days:
            result = purge_entries(engine, args.gate or settings.gate.id, entry_days, today,
                                   forwarded_only=bool(settings.database.central_url))
            print(result)
        else:
            print("entries are kept ([privacy] entry_retention_days = 0)")
    finally:
        engine.dispose()
    return 0

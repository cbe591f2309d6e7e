"""Daily counts over the real recorder and real databases (SQLite file, PostgreSQL)."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlmodel import Session

from checkpoint.counts import daily_counts, daily_range, occupancy
from checkpoint.db import open_database
from checkpoint.entries import build_exit
from checkpoint.models import Entry, Override
from checkpoint.recorder import Recorder

JAKARTA = ZoneInfo("Asia/Jakarta")


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def entry(at, outcome="allowed", reason="", gate="east", flagged=False):
    local = at.astimezone(JAKARTA)
    return Entry(gate_id=gate, decided_at=at, local_date=local.date().isoformat(), local_hour=local.hour,
                 outcome=outcome, reasons=reason, primary_reason=reason, flagged=flagged)


def record(url, rows):
    engine = open_database(url, migrate_schema=True)  # PostgreSQL: as its owner (checkpoint init-db)
    recorder = Recorder(engine).start()
    for row in rows:
        recorder.submit(row)
    assert recorder.flush(10)
    recorder.stop()
    return engine


def test_local_midnight_in_jakarta_splits_days(db_url):
    # 16:59 UTC is 23:59 on the 23rd in Jakarta; 17:01 UTC is 00:01 on the 24th.
    engine = record(db_url, [entry(utc(2026, 11, 23, 16, 59)), entry(utc(2026, 11, 23, 17, 1), "denied", "fever")])
    with Session(engine) as session:
        first, second = daily_range(session, "2026-11-23", "2026-11-24")
    engine.dispose()
    assert (first.day, first.visitors, first.allowed, first.denied) == ("2026-11-23", 1, 1, 0)
    assert first.hourly[23] == 1 and first.peak_hour == 23
    assert (second.day, second.visitors, second.denied, second.denied_by_reason) == ("2026-11-24", 1, 1, {"fever": 1})
    assert second.hourly[0] == 1 and second.peak_hour == 0


def test_counts_per_gate_and_total(db_url):
    rows = [
        entry(utc(2026, 11, 24, 2, 0)),
        entry(utc(2026, 11, 24, 2, 5), flagged=True),
        entry(utc(2026, 11, 24, 3, 0), "denied", "no_mask"),
        entry(utc(2026, 11, 24, 3, 1), "denied", "no_mask", gate="west"),
        entry(utc(2026, 11, 24, 3, 2), "remeasure", "implausible_temperature", gate="west"),
        build_exit("east", JAKARTA, utc(2026, 11, 24, 4, 0).timestamp(), "guard"),
    ]
    engine = record(db_url, rows)
    with Session(engine) as session:
        east = daily_counts(session, "2026-11-24", "east")
        total = daily_counts(session, "2026-11-24")
        assert occupancy(session, "2026-11-24", "east") == 1
        assert occupancy(session, "2026-11-24") == 1
    engine.dispose()
    assert (east.visitors, east.allowed, east.denied, east.flagged, east.exits) == (3, 2, 1, 1, 1)
    assert east.peak_hour == 9  # 02:00 UTC = 09:00 WIB, two visitors
    assert (total.visitors, total.denied, total.remeasure) == (4, 2, 1)
    assert total.denied_by_reason == {"no_mask": 2}


def test_legacy_mask_below_nose_counts_under_mask_incorrect(db_url):
    rows = [entry(utc(2026, 11, 24, 3, 0), "denied", "mask_below_nose"),  # logged before mask_incorrect existed
            entry(utc(2026, 11, 24, 3, 5), "denied", "mask_incorrect"),
            entry(utc(2026, 11, 24, 3, 9), "denied", "no_mask")]
    engine = record(db_url, rows)
    with Session(engine) as session:
        day = daily_counts(session, "2026-11-24")
    engine.dispose()
    assert day.denied_by_reason == {"mask_incorrect": 2, "no_mask": 1}


def test_override_to_allowed_counts_for_occupancy(sqlite_url):
    denied = entry(utc(2026, 11, 24, 2, 0), "denied", "no_mask")
    engine = record(sqlite_url, [denied])
    with Session(engine) as session:
        assert occupancy(session, "2026-11-24") == 0
        session.add(Override(entry_uid=denied.uid, gate_id="east", at=utc(2026, 11, 24, 2, 1), by_user="guard1",
                             outcome="allowed", reason="mask put on at the desk"))
        session.commit()
        assert occupancy(session, "2026-11-24") == 1
        assert daily_counts(session, "2026-11-24").overridden == 1
        assert daily_counts(session, "2026-11-24").denied == 1  # the original decision stays counted
    engine.dispose()

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
        day = daily_counts(session, "2026-11-24")
        assert day.overridden == 1
        # counted by its final outcome (the override); the entry itself still says denied
        assert (day.visitors, day.allowed, day.denied, day.denied_by_reason) == (1, 1, 0, {})
        assert session.get(Entry, denied.id).outcome == "denied"
    engine.dispose()


def test_every_count_uses_the_final_outcome(db_url):
    """The latest override of an entry decides where it counts: allowed, denied (under "override" among the
    denials when a guard made it one), or re-measure; the hourly visitors follow."""
    rows = [entry(utc(2026, 11, 24, 2, 0)),  # 09:00, allowed, then overridden to denied
            entry(utc(2026, 11, 24, 2, 10), "denied", "fever"),  # 09:10, denied, then allowed, then denied again
            entry(utc(2026, 11, 24, 3, 0), "remeasure", "no_face"),  # 10:00, re-measure, then allowed
            entry(utc(2026, 11, 24, 3, 5), "denied", "no_mask"),  # 10:05, denied, overridden to denied (no change)
            entry(utc(2026, 11, 24, 4, 0))]  # 11:00, allowed, untouched
    engine = record(db_url, rows)
    overrides = [(rows[0], "denied"), (rows[1], "allowed"), (rows[1], "denied"), (rows[2], "allowed"),
                 (rows[3], "denied")]
    with Session(engine) as session:
        for i, (row, outcome) in enumerate(overrides):
            session.add(Override(entry_uid=row.uid, gate_id="east", at=utc(2026, 11, 24, 5, i), by_user="guard1",
                                 outcome=outcome, reason="checked at the desk"))
        session.commit()
        day = daily_counts(session, "2026-11-24")
        inside = occupancy(session, "2026-11-24")
    engine.dispose()
    assert (day.visitors, day.allowed, day.denied, day.remeasure, day.overridden) == (5, 2, 3, 0, 4)
    assert day.denied_by_reason == {"override": 1, "fever": 1, "no_mask": 1}
    assert day.hourly[9] == 2 and day.hourly[10] == 2 and day.hourly[11] == 1 and sum(day.hourly) == day.visitors
    assert inside == day.allowed

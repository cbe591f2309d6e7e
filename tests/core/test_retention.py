"""[privacy] entry_retention_days and store_temperatures (issue 15, item 5)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from checkpoint.agent import Agent
from checkpoint.cli import main
from checkpoint.clock import ManualClock
from checkpoint.config import load_settings
from checkpoint.counts import daily_range, gates_in_range
from checkpoint.db import open_database
from checkpoint.entries import build_exit, local_date_hour
from checkpoint.faces import FaceStore
from checkpoint.journal import Journal
from checkpoint.messages import Box, MaskObservation, ThermalReading
from checkpoint.models import ALLOWED, DENIED, REMEASURE, DailyCount, Entry, Exit, Override
from checkpoint.recorder import Recorder
from checkpoint.retention import RetentionJob, purge_entries

JAKARTA = ZoneInfo("Asia/Jakarta")
GATE = "gate-1"


def at(text: str) -> float:
    """A Jakarta wall-clock time as a timestamp."""
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA).timestamp()


def entry(t: float, outcome: str = ALLOWED, reason: str = "", gate: str = GATE, flagged: bool = False,
          body_c: float = 36.6) -> Entry:
    day, hour = local_date_hour(t, JAKARTA)
    return Entry(gate_id=gate, decided_at=datetime.fromtimestamp(t, tz=timezone.utc), local_date=day, local_hour=hour,
                 outcome=outcome, reasons=reason, primary_reason=reason, flagged=flagged, body_c=body_c,
                 object_c=body_c - 1, ambient_c=24.0, mask_class="mask", mask_confidence=0.93)


def override(target: Entry, t: float, outcome: str) -> Override:
    return Override(entry_uid=target.uid, gate_id=target.gate_id, at=datetime.fromtimestamp(t, tz=timezone.utc),
                    by_user="guard", outcome=outcome, reason="checked by hand")


def write(engine, *rows) -> None:
    with Session(engine, expire_on_commit=False) as session:
        for row in rows:
            session.add(row)
        session.commit()


def remaining(engine, model) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_retention_follows_the_jakarta_date_across_midnight(sqlite_url):
    engine = open_database(sqlite_url)
    # a minute apart and on the same UTC date (16:59:30 and 17:00:30 UTC), but on two Jakarta days
    before = entry(at("2026-11-18T23:59:30"))
    after = entry(at("2026-11-19T00:00:30"))
    assert (before.local_date, after.local_date) == ("2026-11-18", "2026-11-19")
    assert before.decided_at.date() == after.decided_at.date()
    write(engine, before, after)
    write(engine, override(before, at("2026-11-19T08:00:00"), DENIED),
          build_exit(GATE, JAKARTA, at("2026-11-18T23:59:50"), "guard"),
          build_exit(GATE, JAKARTA, at("2026-11-19T00:00:50"), "guard"))

    clock = ManualClock(at("2026-11-20T23:59:00"))
    job = RetentionJob(GATE, JAKARTA, 1)
    recorder = Recorder(engine, clock=clock.now, retention=job).start()
    try:
        # one minute before midnight: today is the 20th, the 19th and the 20th are kept, the 18th goes
        assert wait_for(lambda: job.last_day == "2026-11-20")
        assert [e.uid for e in remaining(engine, Entry)] == [after.uid]
        assert remaining(engine, Override) == []  # the override of the deleted entry went with it
        assert [x.local_date for x in remaining(engine, Exit)] == ["2026-11-19"]
        assert recorder.purge_entries().entries == 0  # on demand, the same day: nothing more

        clock.set(at("2026-11-21T00:00:30"))  # just past midnight: the daily run is due again
        recorder.submit(entry(at("2026-11-21T00:00:30")))  # wakes the writer at once
        assert wait_for(lambda: job.last_day == "2026-11-21")
        assert recorder.flush()
        assert [e.local_date for e in remaining(engine, Entry)] == ["2026-11-21"]
        assert remaining(engine, Exit) == []
        assert job.last_result.days == ["2026-11-19"] and job.last_result.entries == 1
    finally:
        recorder.stop()
    with Session(engine) as session:
        kept = {row.day: row for row in session.exec(select(DailyCount))}
        assert sorted(kept) == ["2026-11-18", "2026-11-19"]
        assert (kept["2026-11-18"].denied, kept["2026-11-18"].allowed) == (1, 0)  # the final outcome, overridden
        assert (kept["2026-11-19"].allowed, kept["2026-11-19"].exits) == (1, 1)
        assert all(row.entries_deleted == 1 for row in kept.values())
    engine.dispose()


def test_daily_counts_are_unchanged_by_the_purge(tmp_path):
    now = datetime.now(JAKARTA).replace(hour=10, minute=0, second=0, microsecond=0)
    settings_file = tmp_path / "gate.toml"
    settings_file.write_text(f'data_dir = "{tmp_path}"\n[gate]\nid = "{GATE}"\ntimezone = "Asia/Jakarta"\n'
                             '[privacy]\nentry_retention_days = 7\n', encoding="utf-8")
    settings = load_settings(str(settings_file), environ={})
    engine = open_database(settings.database_url)
    rows = []
    for days_ago in (30, 12, 8, 7, 1, 0):
        base = (now - timedelta(days=days_ago)).timestamp()
        a = entry(base + 60)
        b = entry(base + 3600, DENIED, "fever", flagged=True)
        c = entry(base + 7200, REMEASURE, "no_reading")
        d = entry(base + 7300, DENIED, "no_mask")
        other = entry(base + 120, gate="gate-2")  # another gate's entries are not this gate's to purge
        rows += [a, b, c, d, other, override(d, base + 7400, ALLOWED), override(a, base + 100, DENIED),
                 override(a, base + 200, ALLOWED), build_exit(GATE, JAKARTA, base + 9000, "guard")]
    write(engine, *rows)
    first, last = (now - timedelta(days=40)).date().isoformat(), now.date().isoformat()

    def snapshot():
        with Session(engine) as session:
            per_gate = {g: [c.as_dict() for c in daily_range(session, first, last, g)]
                        for g in gates_in_range(session, first, last)}
            return per_gate, [c.as_dict() for c in daily_range(session, first, last)]

    before = snapshot()
    assert before[1][-31]["visitors"] == 4 and before[1][-31]["denied_by_reason"] == {"fever": 1}

    assert main(["purge", "-c", str(settings_file)]) == 0  # entry_retention_days = 7 from the file
    remaining_days = sorted({e.local_date for e in remaining(engine, Entry) if e.gate_id == GATE})
    assert remaining_days == [(now - timedelta(days=n)).date().isoformat() for n in (7, 1, 0)]
    assert len([e for e in remaining(engine, Entry) if e.gate_id == "gate-2"]) == 6
    assert snapshot() == before  # per gate and all gates, every day, reasons and hours included
    assert main(["purge", "-c", str(settings_file), "--entry-days", "0"]) == 0  # 0 keeps everything
    assert snapshot() == before
    engine.dispose()


def test_a_day_not_yet_forwarded_is_kept_until_it_is(sqlite_url):
    engine = open_database(sqlite_url)
    old = entry(at("2026-11-01T09:00:00"))
    write(engine, old)
    today = datetime.fromtimestamp(at("2026-11-20T09:00:00"), JAKARTA).date()
    result = purge_entries(engine, GATE, 7, today, forwarded_only=True)
    assert result.waiting == ["2026-11-01"] and len(remaining(engine, Entry)) == 1
    with Session(engine) as session:
        row = session.get(Entry, old.id)
        row.forwarded_at = datetime.now(timezone.utc)
        session.commit()
    assert purge_entries(engine, GATE, 7, today, forwarded_only=True).entries == 1
    engine.dispose()


def visit(agent, t):
    for i in range(6):
        agent.handle(MaskObservation(t + i / 10, Box(0, 0, 120, 120), {"mask": 0.9, "no_mask": 0.1}))
    return agent.handle(ThermalReading(t + 0.7, 36.71, 36.23, ambient_c=25.4))


@pytest.mark.parametrize("store", [True, False])
def test_outcome_only_stores_no_temperature(tmp_path, store):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path),
                                                     "privacy": {"store_temperatures": store}})
    engine = open_database(settings.database_url)
    journal = Journal(tmp_path / "journal.jsonl")
    recorder = Recorder(engine, journal=journal, store_temperatures=settings.privacy.store_temperatures).start()
    agent = Agent(settings, recorder, face_store=FaceStore(settings.data_path))
    # the journal is on disk before the write: look at it while the database holds the row back
    with recorder._cond:
        [decided] = visit(agent, at("2026-11-18T09:00:00"))
        journaled = journal.path.read_text(encoding="utf-8")
    assert recorder.stop()
    [row] = remaining(engine, Entry)
    assert row.outcome == ALLOWED and row.mask_class == "mask" and row.face_seen
    if store:
        assert (row.body_c, row.object_c, row.ambient_c) == (36.71, 36.23, 25.4)
        assert row.mask_confidence == pytest.approx(0.9)
    else:
        assert (row.body_c, row.object_c, row.ambient_c, row.mask_confidence) == (None, None, None, None)
        assert decided.body_c is None  # nor in the agent's log line
        assert "36.71" not in journaled and "36.23" not in journaled and "25.4" not in journaled
        assert decided.uid in journaled
    engine.dispose()

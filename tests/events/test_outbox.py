"""The local log as each sink's outbox: cursors, this gate's rows only, time order, holes in the ids,
partial delivery, cursors kept in the log across a restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from gate_helpers import make_entry, make_exit
from sqlalchemy import insert, select
from sqlmodel import Session

from checkpoint.db import open_database
from checkpoint.events_out.outbox import Outbox
from checkpoint.models import Entry, EventCursor, Override

GATE = "east"


def ids(scanned: dict) -> dict:
    return {source: mark.id for source, mark in scanned.items()}


def add(engine, *rows) -> list:
    with Session(engine, expire_on_commit=False) as session:
        for row in rows:
            session.add(row)
        session.commit()
    return list(rows)


def test_a_new_sink_starts_at_the_end_of_the_log_and_reads_this_gates_rows_in_time_order(db_url):
    engine = open_database(db_url, migrate_schema=True)
    add(engine, make_entry(GATE, 1))  # history before the sink existed: not sent
    outbox = Outbox(engine, GATE, "mqtt", gap_wait_s=0.2)
    events, scanned = outbox.read()
    assert events == [] and ids(scanned) == {"entry": 1, "exit": 0, "override": 0}
    t = time.time()
    first = make_entry(GATE, 2, t)
    other = make_entry("west", 3, t + 1)
    add(engine, first, other)
    leaving = make_exit(GATE, t + 2)
    second = make_entry(GATE, 4, t + 3)
    add(engine, leaving, second)
    override = Override(entry_uid=first.uid, gate_id=GATE, at=datetime.fromtimestamp(t + 2.5, tz=timezone.utc),
                        by_user="guard", outcome="denied", reason="looked unwell")
    add(engine, override)
    events, scanned = outbox.read()
    assert [(e.kind, e.uid) for e in events] == [("entry", first.uid), ("exit", leaving.uid),
                                                 ("override", override.uid), ("entry", second.uid)]
    assert ids(scanned) == {"entry": 4, "exit": 1, "override": 1}
    assert events[2].payload["entry_uid"] == first.uid and events[2].payload["by_user"] == "guard"
    assert outbox.pending() == 4

    outbox.advance(events, 2, scanned)  # the entry and the exit went, then the destination failed
    assert outbox.load() == {"entry": 2, "exit": 1, "override": 0}
    assert [e.uid for e in outbox.read()[0]] == [override.uid, second.uid]
    outbox.save(force=True)
    again = Outbox(engine, GATE, "mqtt")  # the next start
    assert [e.uid for e in again.read()[0]] == [override.uid, second.uid]
    assert [e.uid for e in Outbox(engine, GATE, "webhook").read()[0]] == []  # each sink its own cursor
    events, scanned = again.read()
    again.advance(events, len(events), scanned)
    again.save(force=True)
    with Session(engine) as session:
        cursors = {(c.sink, c.source): c.last_id for c in session.exec(select(EventCursor)).scalars()}
    assert cursors[("mqtt", "entry")] == 4 and cursors[("mqtt", "override")] == 1
    engine.dispose()


@pytest.mark.slow
def test_a_hole_in_the_ids_is_waited_for_then_passed(db_url):
    engine = open_database(db_url, migrate_schema=True)
    outbox = Outbox(engine, GATE, "mqtt", gap_wait_s=0.5)
    outbox.load()
    now = datetime.now(timezone.utc)

    def row(n: int) -> dict:
        entry = make_entry(GATE, n)
        values = {c.name: getattr(entry, c.name) for c in Entry.__table__.columns if c.name != "forwarded_at"}
        return {**values, "id": n, "decided_at": now + timedelta(seconds=n)}

    with engine.begin() as connection:  # 2 is missing: a transaction still open (or rolled back)
        connection.execute(insert(Entry.__table__), [row(1), row(3)])
    events, scanned = outbox.read()
    assert [e.row_id for e in events] == [1] and scanned["entry"].id == 1
    outbox.advance(events, 1, scanned)
    with engine.begin() as connection:  # it commits: read in order
        connection.execute(insert(Entry.__table__), [row(2)])
    events, scanned = outbox.read()
    assert [e.row_id for e in events] == [2, 3]
    outbox.advance(events, 2, scanned)
    with engine.begin() as connection:  # 4 never comes
        connection.execute(insert(Entry.__table__), [row(5)])
    assert outbox.read()[0] == []
    time.sleep(0.6)
    events, scanned = outbox.read()
    assert [e.row_id for e in events] == [5] and scanned["entry"].id == 5
    engine.dispose()


def test_exits_of_this_gate_only(db_url):
    engine = open_database(db_url, migrate_schema=True)
    outbox = Outbox(engine, GATE, "webhook")
    outbox.load()
    add(engine, make_exit("west"), make_exit(GATE))
    events, scanned = outbox.read()
    assert [(e.kind, e.payload["gate"], e.payload["source"]) for e in events] == [("exit", GATE, "sensor")]
    assert scanned["exit"].id == 2
    engine.dispose()


def test_rows_after_a_retention_purge_are_read_even_when_sqlite_gives_them_old_ids(db_url):
    """The retention period deleted every row up to the newest (a gate idle for longer than it): SQLite numbers
    the next rows from the highest one left, ids the cursor has passed. They are read all the same."""
    from datetime import date

    from checkpoint.retention import purge_entries

    engine = open_database(db_url, migrate_schema=True)
    outbox = Outbox(engine, GATE, "mqtt")
    outbox.load()
    old = time.time() - 5 * 86400
    add(engine, *(make_entry(GATE, n, old + n) for n in range(1, 4)), make_exit(GATE, old + 10))
    events, scanned = outbox.read()
    outbox.advance(events, len(events), scanned)
    outbox.save(force=True)
    assert len(events) == 4 and outbox.load()["entry"] == 3
    today = datetime.fromtimestamp(time.time()).date()
    result = purge_entries(engine, GATE, 1, date.fromisoformat(today.isoformat()))
    assert result.entries == 3 and result.exits == 1
    fresh = add(engine, make_entry(GATE, 7), make_entry(GATE, 8), make_exit(GATE))
    restarted = Outbox(engine, GATE, "mqtt")  # after a restart too: the cursor's row is read from the log
    events, scanned = restarted.read()
    assert [e.uid for e in events] == [row.uid for row in fresh]
    restarted.advance(events, len(events), scanned)
    assert restarted.read()[0] == []  # and not again
    engine.dispose()

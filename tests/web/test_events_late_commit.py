"""The live poller publishes an entry whose lower id commits after a higher one (many writers, one PostgreSQL)."""

from datetime import datetime, timezone

import pytest
from sqlmodel import Session

from checkpoint.db import open_database
from checkpoint.models import Entry
from web.events import Broker


def add(engine, entry_id):
    with Session(engine) as session:
        session.add(Entry(id=entry_id, gate_id="g", decided_at=datetime.now(timezone.utc), local_date="2026-11-24",
                          local_hour=9, outcome="allowed"))
        session.commit()


@pytest.fixture
def engine(db_url):
    engine = open_database(db_url, migrate_schema=True)  # PostgreSQL: as its owner (checkpoint init-db)
    yield engine
    engine.dispose()


def test_late_commit_is_published_once(engine):
    add(engine, 1)
    broker = Broker(engine, poll_s=3600)  # the thread sleeps; the test polls by hand
    broker.subscribe()
    try:
        add(engine, 2)
        add(engine, 4)
        assert [e.data["id"] for e in broker.poll_once() if e.kind == "entry"] == [2, 4]
        add(engine, 3)  # committed after 4 was read
        late = [e for e in broker.poll_once() if e.kind == "entry"]
        assert [e.data["id"] for e in late] == [3]
        assert late[0].cursor.entry == 4  # the cursor never goes back
        add(engine, 5)
        assert [e.data["id"] for e in broker.poll_once() if e.kind == "entry"] == [5]
        assert [e for e in broker.poll_once() if e.kind == "entry"] == []
    finally:
        broker.close()

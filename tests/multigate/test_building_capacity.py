"""A building-wide crowd limit: every gate counts the people who came in through any gate."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from gate_helpers import make_entry, make_exit, via_port
from polling import wait_until
from sqlmodel import Session, select

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.health import DOWN
from checkpoint.models import Entry, Override
from checkpoint.runtime import AgentRuntime


def gate(tmp_path, gate_id: str, central_url: str, scope: str = "building") -> AgentRuntime:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / gate_id), "gate": {"id": gate_id},
        "scanner": {"enabled": False}, "camera": {"enabled": False},
        "rules": {"capacity": {"mode": "deny", "limit": 3, "scope": scope}},
        "database": {"url": f"sqlite:///{tmp_path / gate_id}.db", "central_url": central_url},
    })
    return AgentRuntime(settings, heartbeat_s=0.1).start()


def inside(runtime: AgentRuntime) -> int:
    return runtime.agent.occupancy.at(time.time())  # the figure the capacity rule decides on


@pytest.mark.slow
@pytest.mark.postgres
def test_each_gate_counts_the_whole_building_through_the_central_log(tmp_path, pg_url, proxy):
    central = open_database(pg_url, migrate_schema=True)  # the owner's step (checkpoint init-db); gates never migrate
    north = gate(tmp_path, "north", pg_url)
    south = gate(tmp_path, "south", via_port(pg_url, proxy.port))
    side = gate(tmp_path, "side", pg_url, scope="gate")  # a gate with its own limit counts only its visitors
    try:
        for n in (1, 2):  # allowed entries (make_entry denies every fifth)
            north.recorder.submit(make_entry("north", n))
        south.recorder.submit(make_entry("south", 1))
        side.recorder.submit(make_entry("side", 1))
        assert wait_until(lambda: inside(north) == 4 and inside(south) == 4), (inside(north), inside(south))
        assert wait_until(lambda: inside(side) == 1), inside(side)

        with Session(central) as session:  # exits recorded on the central web app, not at the gates
            session.add_all([make_exit("north"), make_exit("side")])
            session.commit()
        assert wait_until(lambda: inside(north) == 2 and inside(south) == 2), (inside(north), inside(south))
        assert wait_until(lambda: inside(side) == 0)  # a gate-scope gate hears of its own central exits too

        proxy.stop()  # south loses the central database: it keeps the last figure, not its own 1
        assert wait_until(lambda: south.health.get("central").state == DOWN)
        north.recorder.submit(make_entry("north", 3))
        assert wait_until(lambda: inside(north) == 3)
        time.sleep(0.5)  # several refresh periods
        assert inside(south) == 2  # south cannot know of north's new visitor until the centre returns
        proxy.start()
        assert wait_until(lambda: inside(south) == 3, timeout=20), inside(south)

        with Session(north.engine) as session:  # a guard at north's own screen (its local log) turns one back
            first = session.exec(select(Entry).where(Entry.gate_id == "north").order_by(Entry.id)).first()
            session.add(Override(entry_uid=first.uid, gate_id="north", at=datetime.now(timezone.utc),
                                 by_user="guard", outcome="denied", reason="left again at once"))
            session.commit()
        assert wait_until(lambda: inside(north) == 2), inside(north)  # overrides stay local: north counts them
    finally:
        for runtime in (north, south, side):
            runtime.stop()
        central.dispose()


def test_gates_sharing_one_database_count_the_building(tmp_path):
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    runtimes = []
    for gate_id in ("east", "west"):
        settings = Settings.model_validate({
            "data_dir": str(tmp_path / gate_id), "gate": {"id": gate_id},
            "scanner": {"enabled": False}, "camera": {"enabled": False},
            "rules": {"capacity": {"mode": "deny", "limit": 10, "scope": "building"}},
            "database": {"url": shared},
        })
        runtimes.append(AgentRuntime(settings, heartbeat_s=0.1).start())
    east, west = runtimes
    try:
        for n in (1, 2, 3):
            east.recorder.submit(make_entry("east", n))
        west.recorder.submit(make_exit("west"))
        assert wait_until(lambda: inside(east) == 2 and inside(west) == 2), (inside(east), inside(west))
    finally:
        for runtime in runtimes:
            runtime.stop()

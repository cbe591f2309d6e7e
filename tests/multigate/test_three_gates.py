"""Three gates, one central log: each agent replays recorded sessions into its own outbox while forwarding."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from checkpoint.counts import daily_counts
from checkpoint.db import make_engine, open_database
from checkpoint.forwarder import Forwarder
from checkpoint.health import OK, HealthRegistry
from checkpoint.models import Entry, Exit
from checkpoint.replay import load_session, replay

SESSIONS = Path(__file__).resolve().parent.parent / "fixtures" / "sessions"
ALL = sorted(p.name for p in SESSIONS.iterdir() if (p / "session.toml").is_file())
GATES = ("gate-a", "gate-b", "gate-c")


def uid_list(engine, table, gate_id=None):
    statement = select(table.uid).order_by(table.id)
    if gate_id:
        statement = statement.where(table.gate_id == gate_id)
    with engine.connect() as connection:
        return list(connection.execute(statement).scalars())


def days_in(engine):
    with engine.connect() as connection:
        return set(connection.execute(select(Entry.local_date).distinct()).scalars()) | set(
            connection.execute(select(Exit.local_date).distinct()).scalars())


def counts(engine, day, gate_id=None) -> dict:
    with Session(engine) as session:
        data = daily_counts(session, day, gate_id).as_dict()
    data.pop("gate_id")
    data.pop("peak_hour")  # derived from hourly, compared there
    return data


def add(total: dict, part: dict) -> dict:
    if not total:
        return {**part, "denied_by_reason": dict(part["denied_by_reason"]), "hourly": list(part["hourly"])}
    for key, value in part.items():
        if key == "day":
            continue
        if key == "denied_by_reason":
            total[key] = dict(Counter(total[key]) + Counter(value))
        elif key == "hourly":
            total[key] = [a + b for a, b in zip(total[key], value)]
        else:
            total[key] += value
    return total


@pytest.mark.slow
def test_three_gates_forward_the_union_of_their_logs(tmp_path, pg_url):
    registry = HealthRegistry()
    locals_, forwarders, errors = {}, {}, []
    for gate in GATES:
        url = f"sqlite:///{tmp_path / gate / 'checkpoint.db'}"
        locals_[gate] = (url, open_database(url))
    open_database(pg_url, migrate_schema=True).dispose()  # the owner's step (checkpoint init-db); gates never migrate
    for gate in GATES:
        # every agent connects first at the same moment: each checks the central schema, none migrates it
        forwarders[gate] = Forwarder(locals_[gate][1], pg_url, registry.reporter(f"central-{gate}"),
                                     batch=3, poll_s=0.05).start()

    def agent(gate: str, names: list[str]) -> None:
        try:
            for name in names:
                session = load_session(SESSIONS / name)
                session.settings.gate.id = gate
                replay(session, locals_[gate][0])
                forwarders[gate].kick()
        except Exception as exc:  # reported by the main thread
            errors.append((gate, exc))

    # every session is replayed by every gate, each gate in its own order, all at once
    threads = [threading.Thread(target=agent, args=(gate, ALL[i:] + ALL[:i])) for i, gate in enumerate(GATES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    central = make_engine(pg_url)
    try:
        assert errors == []
        for gate in GATES:
            assert forwarders[gate].flush(30), f"{gate} did not deliver its outbox"
            assert registry.get(f"central-{gate}").state == OK

        union, exits = set(), set()
        for gate in GATES:
            local = locals_[gate][1]
            local_uids = uid_list(local, Entry)
            assert len(local_uids) > 20
            assert uid_list(central, Entry, gate) == local_uids  # each gate's entries in its own order
            assert uid_list(central, Exit, gate) == uid_list(local, Exit)
            union |= set(local_uids)
            exits |= set(uid_list(local, Exit))
        central_uids = uid_list(central, Entry)
        assert len(central_uids) == len(set(central_uids)) == len(union)
        assert set(central_uids) == union
        assert set(uid_list(central, Exit)) == exits and len(exits) == len(GATES)

        days = set().union(*(days_in(locals_[gate][1]) for gate in GATES))
        assert days == days_in(central) and len(days) >= 2  # the across-midnight session spans two days
        for day in sorted(days):
            total: dict = {}
            for gate in GATES:
                local_counts = counts(locals_[gate][1], day)
                assert counts(central, day, gate) == local_counts
                total = add(total, local_counts)
            assert counts(central, day) == total
            assert total["visitors"] > 0 or day != "2026-11-24"
    finally:
        for gate in GATES:
            forwarders[gate].stop()
            locals_[gate][1].dispose()
        central.dispose()

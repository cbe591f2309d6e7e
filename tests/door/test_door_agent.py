"""The door under a live agent: decisions open it through the real driver, the entry says what the door was
told, a guard's override opens it, and an unplugged relay shows in health (and the heartbeat) and recovers.

Real parts: AgentRuntime with its decision thread, recorder and heartbeat on a SQLite log, the Modbus RTU
driver on a virtual relay's pseudo-terminal. Visitors are fed as the camera and scanner drivers would."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from polling import wait_until
from sqlmodel import Session, select

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.health import DOWN, OK
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, Box, MaskObservation, ThermalReading
from checkpoint.models import Entry, GateStatus, Override
from checkpoint.runtime import AgentRuntime

MASKED = {MASK: 0.96, NO_MASK: 0.02, MASK_INCORRECT: 0.02}
BARE = {MASK: 0.03, NO_MASK: 0.94, MASK_INCORRECT: 0.03}


def visitor(runtime, probs, temperature=36.5) -> None:
    for _ in range(6):
        runtime.put(MaskObservation(runtime.clock.now(), Box(200, 120, 160, 160), probs, faces_in_frame=1,
                                    frame_size=(640, 480)))
        time.sleep(0.05)  # the camera's frame rate
    runtime.put(ThermalReading(runtime.clock.now(), temperature, temperature))


def entries(engine) -> list[Entry]:
    with Session(engine) as session:
        return list(session.exec(select(Entry).order_by(Entry.id)))


def door_in_heartbeat(engine):
    with Session(engine) as session:
        row = session.exec(select(GateStatus)).first()
    return json.loads(row.components).get("door", {}).get("state") if row else None


@pytest.fixture
def gate(tmp_path, virtual_relay):
    device = virtual_relay("modbus-rtu")
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    settings = Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": "east"},
        "scanner": {"enabled": False}, "camera": {"source": "simulated"},
        "visits": {"episode_gap_s": 0.3, "gap_s": 0.6, "face_wait_s": 0.2},
        "database": {"url": url},
        "door": {"mode": "pulse", "open_s": 0.5, "check_s": 0.2, "reconnect_max_s": 0.3,
                 "relay": {"driver": "modbus-rtu", "url": device.path, "reply_timeout_s": 0.2}},
    })
    engine = open_database(url)
    runtime = AgentRuntime(settings, engine=engine, heartbeat_s=0.2).start()
    runtime._door_watch.poll_s = 0.1
    yield runtime, device, engine
    runtime.stop()
    engine.dispose()


@pytest.mark.slow
def test_decisions_drive_the_door_and_the_entry_says_so(gate):
    runtime, device, engine = gate
    assert wait_until(lambda: runtime.health.get("door").state == OK, 5)
    visitor(runtime, MASKED)
    assert wait_until(lambda: len(entries(engine)) == 1, 10)
    assert device.wait_for(lambda: device.states.get(0) is True, 3)
    assert device.wait_for(lambda: device.states.get(0) is False, 3)  # the pulse ends
    [allowed] = entries(engine)
    assert (allowed.outcome, allowed.door) == ("allowed", "open")
    opened_at = [t for t, _ch, state in device.changes if state][0]
    assert opened_at - allowed.decided_at.timestamp() < 0.5

    time.sleep(0.7)  # the next visitor steps up once the first has left (visits.gap_s)
    visitor(runtime, BARE)
    assert wait_until(lambda: len(entries(engine)) == 2, 10)
    denied = entries(engine)[1]
    assert (denied.outcome, denied.door) == ("denied", "locked")
    assert wait_until(lambda: any(a.entry_uid == denied.uid for a in runtime.door.actuations), 3)
    assert len([t for t, _ch, state in device.changes if state]) == 1  # still opened once only

    # a guard lets the denied visitor in on the screen: an override row in the gate's log
    assert runtime._door_watch.ready.wait(3)
    with Session(engine) as session:
        session.add(Override(entry_uid=denied.uid, gate_id="east", at=datetime.now(timezone.utc), by_user="guard",
                             outcome="allowed", reason="checked with a clinical thermometer"))
        session.commit()
    assert device.wait_for(lambda: len([t for t, _ch, state in device.changes if state]) == 2, 3)
    assert runtime.door.wait_for(lambda: any(a.trigger == "override" for a in runtime.door.actuations))
    override = [a for a in runtime.door.actuations if a.trigger == "override"]
    assert [(a.entry_uid, a.opened) for a in override] == [(denied.uid, True)]


@pytest.mark.slow
def test_relay_unplugged_under_a_live_agent_shows_in_health_and_recovers(gate):
    runtime, device, engine = gate
    assert wait_until(lambda: door_in_heartbeat(engine) == OK, 5)
    device.unplug()
    assert wait_until(lambda: runtime.health.get("door").state == DOWN, 3)
    assert wait_until(lambda: door_in_heartbeat(engine) == DOWN, 3)  # the screens' health panel
    visitor(runtime, MASKED)  # decisions go on without the door
    assert wait_until(lambda: len(entries(engine)) == 1, 10)
    [entry] = entries(engine)
    assert entry.outcome == "allowed"
    assert wait_until(lambda: any(a.entry_uid == entry.uid for a in runtime.door.actuations), 3)
    [missed] = [a for a in runtime.door.actuations if a.entry_uid == entry.uid]
    assert not missed.opened and "not present" in missed.error
    assert all(thread.is_alive() for thread in runtime._threads)

    device.replug()
    assert wait_until(lambda: runtime.health.get("door").state == OK, 5)
    assert wait_until(lambda: door_in_heartbeat(engine) == OK, 3)
    assert device.wait_for(lambda: device.states.get(0) is False)  # locked again, and not opened late
    assert not [t for t, _ch, state in device.changes if state]
    time.sleep(0.7)
    visitor(runtime, MASKED)
    assert device.wait_for(lambda: device.states.get(0) is True, 10)

"""The door worker on a virtual relay: pulses, holds, overrides, faults, off the decision thread."""

from __future__ import annotations

import time

import pytest

from checkpoint.config import DoorConfig
from checkpoint.door import LOCKED, OPEN, DoorWorker, door_command
from checkpoint.health import DOWN, OK, HealthRegistry
from drivers.door.serial_relay import LcusRelay, ModbusRelay


def test_door_command_opens_on_allowed_only():
    assert door_command("allowed", "pulse") == OPEN and door_command("allowed", "hold") == OPEN
    assert door_command("denied", "pulse") == LOCKED and door_command("remeasure", "hold") == LOCKED
    assert door_command("allowed", "off") is None


@pytest.fixture
def door(virtual_relay):
    made = []

    def make(mode="pulse", protocol="lcus", **config):
        device = virtual_relay(protocol)
        relay = LcusRelay(device.path, channel=1) if protocol == "lcus" else \
            ModbusRelay(device.path, channel=0, reply_timeout_s=0.2, retries=0)
        registry = HealthRegistry()
        settings = DoorConfig(mode=mode, **{"open_s": 0.4, "check_s": 0.1, "reconnect_max_s": 0.2, **config})
        worker = DoorWorker(settings, relay, registry.reporter("door")).start()
        made.append(worker)
        assert worker.wait_for(lambda: worker.state == LOCKED)  # told "locked" first thing
        return worker, device, registry

    yield make
    for worker in made:
        worker.stop()


def opened(device, channel=0):
    return [t for t, ch, state in device.changes if state and ch == channel]


def test_allowed_pulses_the_door_open_for_open_s_then_locks(door):
    worker, device, registry = door("pulse")
    asked = time.time()
    worker.decided("a" * 32, "allowed", asked)
    assert device.wait_for(lambda: device.states.get(1) is True)
    assert device.wait_for(lambda: len(device.changes) == 3 and device.states[1] is False, 2)
    assert worker.wait_for(lambda: len(worker.actuations) == 3)
    (_, _, first_lock), (t_open, _, _), (t_close, _, _) = device.changes
    assert first_lock is False
    assert 0.3 <= t_close - t_open <= 0.8  # open_s = 0.4
    assert t_open - asked < 0.2
    decision = [a for a in worker.actuations if a.trigger == "decision"]
    assert [(a.entry_uid, a.command, a.opened, a.error) for a in decision] == [("a" * 32, OPEN, True, "")]
    assert [a.trigger for a in worker.actuations] == ["start", "decision", "pulse_end"]
    assert registry.get("door").state == OK and registry.get("door").counters["opened"] == 1


def test_denied_and_remeasure_keep_the_door_locked(door):
    worker, device, _ = door("pulse")
    worker.decided("d" * 32, "denied", time.time())
    worker.decided("r" * 32, "remeasure", time.time())
    assert worker.wait_for(lambda: len(worker.actuations) == 3)
    assert [(a.command, a.opened) for a in list(worker.actuations)[1:]] == [(LOCKED, False), (LOCKED, False)]
    assert True not in [state for _t, _ch, state in device.changes]


def test_hold_keeps_the_door_open_until_a_denial_or_a_device_fault(door):
    worker, device, _ = door("hold")
    worker.decided("a" * 32, "allowed", time.time())
    assert device.wait_for(lambda: device.states.get(1) is True)
    frames = len(device.frames)
    assert device.wait_for(lambda: len(device.frames) >= frames + 3)  # re-told "open" on each check ...
    assert device.states[1] is True  # ... and still open well past open_s
    worker.decided("d" * 32, "denied", time.time())
    assert device.wait_for(lambda: device.states[1] is False)
    worker.decided("b" * 32, "allowed", time.time())
    assert device.wait_for(lambda: device.states[1] is True)
    worker.sensor_health(DOWN, time.time())  # the scanner went down
    assert device.wait_for(lambda: device.states[1] is False)


def test_override_to_allowed_opens_for_a_recent_entry_only(door):
    worker, device, _ = door("pulse", override_within_s=60)
    now = time.time()
    worker.decided("d" * 32, "denied", now)
    worker.overridden("x" * 32, "allowed", now)  # not decided here: ignored
    worker.overridden("d" * 32, "allowed", now + 5)
    assert device.wait_for(lambda: device.states.get(1) is True)
    assert worker.wait_for(lambda: len(worker.actuations) >= 3)
    assert [(a.trigger, a.entry_uid[:1], a.opened) for a in list(worker.actuations)[1:3]] == \
        [("decision", "d", False), ("override", "d", True)]
    worker.decided("e" * 32, "denied", now)
    worker.overridden("e" * 32, "allowed", now + 61)  # too late: the visitor is long gone
    worker.decided("f" * 32, "denied", now)  # the queue is in order: once this is done, so is the override
    assert worker.wait_for(lambda: any(a.entry_uid == "f" * 32 for a in worker.actuations))
    assert not [a for a in worker.actuations if a.trigger == "override" and a.entry_uid == "e" * 32]


@pytest.mark.parametrize("protocol", ["lcus", "modbus-rtu"])
def test_unplugged_relay_is_a_health_fault_and_recovers_when_replugged(door, protocol):
    worker, device, registry = door("pulse", protocol=protocol)
    channel = 1 if protocol == "lcus" else 0
    device.unplug()
    assert worker.wait_for(lambda: registry.get("door").state == DOWN, 2)
    started = time.perf_counter()
    worker.decided("u" * 32, "allowed", time.time())  # the decision thread hands it over and goes on
    assert time.perf_counter() - started < 0.01
    assert worker.wait_for(lambda: any(a.entry_uid == "u" * 32 for a in worker.actuations), 2)
    [missed] = [a for a in worker.actuations if a.entry_uid == "u" * 32]
    assert missed.opened is False and missed.error
    assert registry.get("door").counters["not_opened"] == 1
    device.replug()
    assert worker.wait_for(lambda: registry.get("door").state == OK, 3)
    assert device.wait_for(lambda: device.states.get(channel) is False)  # told "locked" again, not opened late
    worker.decided("v" * 32, "allowed", time.time())
    assert device.wait_for(lambda: device.states.get(channel) is True)


def test_a_silent_modbus_relay_never_holds_up_a_decision(door):
    worker, device, registry = door("pulse", protocol="modbus-rtu")
    device.reply_mode = "silent"
    assert worker.wait_for(lambda: registry.get("door").state == DOWN, 2)
    assert registry.get("door").counters.get("timeouts", 0) >= 1
    assert "no reply" in registry.get("door").message
    started = time.perf_counter()
    for n in range(20):
        worker.decided(f"{n:032d}", "allowed", time.time())
    assert time.perf_counter() - started < 0.02
    device.reply_mode = "ok"
    assert worker.wait_for(lambda: registry.get("door").state == OK, 5)


def test_stop_locks_the_door(door):
    worker, device, _ = door("hold")
    worker.decided("a" * 32, "allowed", time.time())
    assert device.wait_for(lambda: device.states.get(1) is True)
    worker.stop()
    assert device.wait_for(lambda: device.states[1] is False)
    assert worker.actuations[-1].trigger == "stop" and not worker.actuations[-1].error

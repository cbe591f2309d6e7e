"""Events out under a live agent: the real AgentRuntime (decision thread, recorder, door worker on a virtual
LCUS relay) with MQTT (the real Mosquitto) and a webhook receiver on at once. Entries, door actuations,
a guard's override, an exit and health changes reach both; a broker and a receiver that take the connection
and never answer hold up no decision."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest
from events_helpers import SECRET
from polling import wait_until
from sqlmodel import Session

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.health import DOWN
from checkpoint.messages import MASK, MASK_INCORRECT, NO_MASK, Box, MaskObservation, ThermalReading
from checkpoint.models import Override
from checkpoint.runtime import AgentRuntime
from drivers.door.virtual import VirtualRelay

MASKED = {MASK: 0.96, NO_MASK: 0.02, MASK_INCORRECT: 0.02}
GATE = "east"


def visitor(runtime, probs=MASKED, temperature=36.5) -> float:
    for _ in range(6):
        runtime.put(MaskObservation(runtime.clock.now(), Box(200, 120, 160, 160), probs, faces_in_frame=1,
                                    frame_size=(640, 480)))
        time.sleep(0.05)
    runtime.put(ThermalReading(runtime.clock.now(), temperature, temperature))
    return time.monotonic()


def agent_settings(tmp_path, mqtt: dict, webhooks: dict, door: dict | None = None) -> Settings:
    return Settings.model_validate({
        "data_dir": str(tmp_path), "gate": {"id": GATE},
        "scanner": {"enabled": False}, "camera": {"source": "simulated"},
        "visits": {"episode_gap_s": 0.3, "gap_s": 0.6, "face_wait_s": 0.2},
        "database": {"url": f"sqlite:///{tmp_path / 'gate.db'}"},
        "door": door or {"mode": "off"},
        "mqtt": {"enabled": True, "retry_max_s": 0.5, "connect_timeout_s": 1.0, "ack_timeout_s": 2.0, **mqtt},
        "webhooks": {"enabled": True, "secret": SECRET, "retry_max_s": 0.5, "timeout_s": 1.0, **webhooks},
    })


@pytest.mark.slow
@pytest.mark.mqtt
def test_entries_door_override_exit_and_health_reach_mqtt_and_the_webhook(tmp_path, broker, mqtt_topics,
                                                                            receiver):
    prefix, discovery, subscriber = mqtt_topics
    relay = VirtualRelay("lcus")
    relay.start()
    settings = agent_settings(tmp_path, {"port": broker[1], "topic_prefix": prefix, "discovery_prefix": discovery},
                              {"url": receiver.url},
                              {"mode": "pulse", "open_s": 0.3, "check_s": 5, "relay": {"driver": "lcus",
                                                                                       "url": relay.path}})
    engine = open_database(settings.database_url)
    runtime = AgentRuntime(settings, engine=engine, heartbeat_s=0.2).start()
    base = f"{prefix}/{GATE}"
    try:
        visitor(runtime)
        assert wait_until(lambda: subscriber.json(f"{base}/entry") and receiver.of_kind("entry"), 10)
        [entry] = subscriber.json(f"{base}/entry")
        assert entry["outcome"] == "allowed" and entry["door"] == "open" and entry["face_seen"] is True
        assert receiver.of_kind("entry") == [entry]  # the same JSON on both

        def door_events(source):
            return [d for d in source if d["entry_uid"] == entry["uid"]]

        assert wait_until(lambda: any(d["command"] == "open" and d["opened"]
                                      for d in door_events(subscriber.json(f"{base}/door"))), 5)
        assert wait_until(lambda: any(d["trigger"] == "pulse_end" for d in subscriber.json(f"{base}/door")), 5)
        assert wait_until(lambda: any(d["command"] == "open" for d in door_events(receiver.of_kind("door"))), 5)

        with Session(engine) as session:  # what the screen's web app writes
            session.add(Override(entry_uid=entry["uid"], gate_id=GATE, at=datetime.now(timezone.utc),
                                 by_user="guard1", outcome="denied", reason="no ID"))
            session.commit()
        runtime.agent.record_exit(time.time(), "guard", "guard1")
        assert wait_until(lambda: subscriber.json(f"{base}/override") and subscriber.json(f"{base}/exit"), 5)
        [override] = subscriber.json(f"{base}/override")
        assert override["entry_uid"] == entry["uid"] and override["outcome"] == "denied"
        assert subscriber.json(f"{base}/exit")[0]["by_user"] == "guard1"
        assert wait_until(lambda: receiver.of_kind("override") and receiver.of_kind("exit"), 5)
        # health changes since the start: the sinks' own (unknown -> ok), then whatever changes
        assert wait_until(lambda: {"mqtt", "webhook"} <= {h["component"] for h in subscriber.json(f"{base}/health")}, 5)
        assert wait_until(lambda: {"mqtt", "webhook"} <= {h["component"] for h in receiver.of_kind("health")}, 5)

        assert wait_until(lambda: any(s["door"] == "locked" and s["visitors_today"] == 1 and s["exits_today"] == 1
                                      for s in subscriber.json(f"{base}/state")), 8)
        door_config = subscriber.json(f"{discovery}/binary_sensor/checkpoint_{GATE}/door/config")
        assert door_config and door_config[-1]["device_class"] == "door"
        assert {"mqtt", "webhook"} <= set(runtime.health.snapshot())
    finally:
        runtime.stop()
        relay.stop()
        engine.dispose()


class BlackHole:
    """Takes TCP connections and never answers (a broker or receiver hung, a network swallowing packets)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.mark.slow
def test_a_hung_broker_and_receiver_hold_up_no_decision(tmp_path):
    hole = BlackHole()
    settings = agent_settings(tmp_path, {"port": hole.port}, {"url": f"http://127.0.0.1:{hole.port}/hook"})
    engine = open_database(settings.database_url)
    runtime = AgentRuntime(settings, engine=engine, heartbeat_s=0.2).start()
    try:
        waits = []
        for _ in range(4):
            committed = runtime.recorder.committed
            read_at = visitor(runtime)
            assert wait_until(lambda committed=committed: runtime.recorder.committed > committed, 5)
            waits.append(time.monotonic() - read_at)
            time.sleep(0.7)  # the visitor leaves (visits.gap_s)
        assert max(waits) < 1.5  # the visit's own timing (episode_gap_s, face_wait_s), nothing more
        assert wait_until(lambda: runtime.health.get("mqtt").state == DOWN
                          and runtime.health.get("webhook").state == DOWN, 5)
        assert "did not answer" in runtime.health.get("mqtt").message
        assert runtime.events.pending()["webhook"] >= 4
    finally:
        started = time.monotonic()
        runtime.stop()
        assert time.monotonic() - started < 12  # stopping does not hang on them either
        hole.close()
        engine.dispose()

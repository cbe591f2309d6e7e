"""Events out over MQTT against the real Mosquitto: an outage during a stream of entries, a restart, the
retained gate state, the last will and Home Assistant discovery.

The acceptance's "broker down for 30 s" is scaled down to a few seconds: nothing in the sink counts the
outage's length (it retries with a capped backoff, retry_max_s, and the entries wait in the log), and the
suite has a time budget. A TcpProxy between the gate and the broker is the cable pulled."""

from __future__ import annotations

import json
import threading
import time

import pytest
from events_helpers import GATE, Gate, dedup, gate_settings
from polling import wait_until
from tcp_proxy import TcpProxy

from checkpoint.health import DOWN, OK

pytestmark = pytest.mark.mqtt

OUTAGE_S = 4.0  # stands for the acceptance's 30 s (see above)


def mqtt_settings(tmp_path, port, prefix, ha_prefix, **extra):
    return gate_settings(tmp_path, mqtt={"enabled": True, "port": port, "topic_prefix": prefix,
                                         "discovery_prefix": ha_prefix, "retry_max_s": 0.5,
                                         "connect_timeout_s": 1.0, "ack_timeout_s": 2.0, "keepalive_s": 5,
                                         **extra})


def entry_uids(subscriber, prefix) -> list[str]:
    return [payload["uid"] for payload in subscriber.json(f"{prefix}/{GATE}/entry")]


@pytest.mark.slow
def test_broker_outage_during_a_stream_every_entry_arrives_once_in_order(tmp_path, broker, mqtt_topics):
    prefix, discovery, subscriber = mqtt_topics
    proxy = TcpProxy(broker[1]).start()
    gate = Gate(mqtt_settings(tmp_path, proxy.port, prefix, discovery))
    try:
        assert wait_until(lambda: gate.health.get("mqtt").state == OK, 5)
        committed_during_outage = []

        def stream() -> None:
            for n in range(80):  # 20 visitors a second for 4 s, the outage in the middle
                gate.entry(n)
                time.sleep(0.05)

        writer = threading.Thread(target=stream)
        writer.start()
        time.sleep(1.0)
        proxy.stop()  # the cable pulled
        before = gate.recorder.committed
        assert wait_until(lambda: gate.health.get("mqtt").state == DOWN, 3)
        assert "wait in the local log" in gate.health.get("mqtt").message
        time.sleep(OUTAGE_S - 1.0)
        committed_during_outage.append(gate.recorder.committed - before)
        proxy.start()  # back
        writer.join()

        assert wait_until(lambda: len(set(entry_uids(subscriber, prefix))) == 80, 15)
        first, repeats = dedup(entry_uids(subscriber, prefix))
        assert first == gate.submitted  # every entry, in order
        assert repeats <= 50  # only those in flight when the cable was pulled can come twice
        assert committed_during_outage[0] > 30  # the log kept taking entries: nothing waited for the broker
        assert wait_until(lambda: gate.health.get("mqtt").state == OK, 5)
        # the broker sent the last will when the connection died, and "online" came back
        availability = subscriber.on(f"{prefix}/{GATE}/availability")
        assert b"offline" in availability and availability[-1] == b"online"
        assert gate.events.mqtt.connections >= 2
    finally:
        gate.stop()
        proxy.stop()
    assert subscriber.on(f"{prefix}/{GATE}/availability")[-1] == b"offline"  # a clean stop says so itself


@pytest.mark.slow
def test_entries_written_while_the_broker_was_down_leave_after_a_restart(tmp_path, broker, mqtt_topics):
    prefix, discovery, subscriber = mqtt_topics
    proxy = TcpProxy(broker[1])  # not listening yet: connections refused
    gate = Gate(mqtt_settings(tmp_path, proxy.port, prefix, discovery))
    try:
        for n in range(10):
            gate.entry(n)
        assert wait_until(lambda: gate.recorder.committed == 10, 5)
        assert wait_until(lambda: gate.health.get("mqtt").state == DOWN, 3)
        assert gate.events.pending()["mqtt"] >= 10  # the entries, and the health changes since
        assert gate.stop(flush_timeout=0.5) is False  # the agent stops with the entries undelivered
        proxy.start()
        gate.start()  # a new process on the same log
        for n in range(10, 15):
            gate.entry(n)
        assert wait_until(lambda: len(entry_uids(subscriber, prefix)) >= 15, 10)
        gate.restart()  # stopped cleanly: the cursor was saved, nothing is sent again
        gate.entry(15)
        assert wait_until(lambda: len(set(entry_uids(subscriber, prefix))) == 16, 10)
        time.sleep(0.5)
        assert entry_uids(subscriber, prefix) == gate.submitted  # once each, in order
    finally:
        gate.stop()
        proxy.stop()


@pytest.mark.slow
def test_retained_state_last_will_and_home_assistant_discovery(tmp_path, broker, mqtt_topics):
    prefix, discovery, subscriber = mqtt_topics
    host, port = broker
    gate = Gate(mqtt_settings(tmp_path, port, prefix, discovery), occupancy=lambda: 4)
    try:
        for n in range(1, 4):  # allowed, allowed, allowed (make_entry denies every fifth)
            gate.entry(n)
        assert wait_until(lambda: len(entry_uids(subscriber, prefix)) == 3, 5)
        state_topic = f"{prefix}/{GATE}/state"
        assert wait_until(lambda: any(s["visitors_today"] == 3 for s in subscriber.json(state_topic)), 5)

        from events_helpers import Subscriber

        late = Subscriber(host, port, f"{prefix}/#", f"{discovery}/#")  # Home Assistant starting later
        try:
            def retained() -> dict:
                return {topic: payload for topic, payload, retain in list(late.messages) if retain}

            assert wait_until(lambda: {state_topic, f"{prefix}/{GATE}/availability"} <= set(retained())
                              and sum(t.startswith(discovery) for t in retained()) == 4, 3)
            retained = retained()
            assert json.loads(retained[state_topic])["visitors_today"] == 3  # the retained one is current
            state = late.json(state_topic)[-1]
            assert state["visitors_today"] == 3 and state["occupancy"] == 4, state
            assert state["last_temperature_c"] == 36.8 and state["last_outcome"] == "allowed"
            assert state["health"] == OK and state["components"]["mqtt"] == OK and state["door"] == "off", state
            assert retained[f"{prefix}/{GATE}/availability"] == b"online"
            configs = {topic.split("/")[1] + "." + topic.split("/")[3]: json.loads(payload)
                       for topic, payload in retained.items() if topic.startswith(discovery) and payload}
            assert set(configs) == {"sensor.visitors_today", "sensor.occupancy", "sensor.last_temperature",
                                    "sensor.health"}  # no door driven: no door sensor
            for key, config in configs.items():
                assert config["state_topic"] == state_topic
                assert config["availability_topic"] == f"{prefix}/{GATE}/availability"
                assert config["unique_id"] == f"checkpoint_{GATE}_{key.split('.')[1]}"
                assert config["device"]["identifiers"] == [f"checkpoint_{GATE}"]
            assert configs["sensor.last_temperature"]["device_class"] == "temperature"
            assert configs["sensor.last_temperature"]["unit_of_measurement"] == "°C"
        finally:
            late.close()
    finally:
        gate.stop()
    assert subscriber.on(f"{prefix}/{GATE}/availability")[-1] == b"offline"


def test_every_event_names_its_uid_and_health_changes_are_published(tmp_path, broker, mqtt_topics):
    prefix, discovery, subscriber = mqtt_topics
    gate = Gate(mqtt_settings(tmp_path, broker[1], prefix, discovery, discovery=False))
    try:
        uid = gate.entry(5)  # a denial for fever
        assert wait_until(lambda: entry_uids(subscriber, prefix) == [uid], 5)
        [entry] = subscriber.json(f"{prefix}/{GATE}/entry")
        assert entry["v"] == 1 and entry["kind"] == "entry" and entry["gate"] == GATE
        assert entry["outcome"] == "denied" and entry["reasons"] == ["fever"] and entry["primary_reason"] == "fever"
        assert entry["body_c"] == 37.0 and entry["at"].endswith("Z")
        assert "face_image" not in entry and "rules" not in entry and "id" not in entry
        gate.health.reporter("scanner").down(time.time(), "no data for 2.0 s")
        assert wait_until(lambda: any(h["component"] == "scanner" and h["state"] == DOWN
                                      for h in subscriber.json(f"{prefix}/{GATE}/health")), 5)
        assert not subscriber.on(f"{discovery}/sensor/checkpoint_{GATE}/health/config")  # discovery = false
    finally:
        gate.stop()

"""Supervisor alerts: the rules on their own (a pure state machine on a given clock), then under a live agent
through the real Mosquitto and a webhook receiver."""

from __future__ import annotations

import time

import pytest
from events_helpers import Gate, gate_settings
from gate_helpers import make_entry
from polling import wait_until
from test_agent_events import GATE, agent_settings, visitor

from checkpoint.alerts import DENIALS_ALERT, DEVICE_DOWN_ALERT, FEVER_ALERT, AlertWatch
from checkpoint.config import AlertsConfig, ConfigError, Settings, load_settings
from checkpoint.db import open_database
from checkpoint.runtime import AgentRuntime


def watch(store_temperatures: bool = True, **config) -> AlertWatch:
    return AlertWatch(AlertsConfig(enabled=True, **config), "east", store_temperatures)


def test_a_confirmed_fever_is_an_alert_a_request_to_re_test_is_not():
    alerts = watch(denials=0)
    assert alerts.decided(100.0, "remeasure", ["fever_retest"], "a1", 37.9) == []
    [fever] = alerts.decided(420.0, "denied", ["fever"], "a1", 38.2)
    assert (fever.kind, fever.gate_id, fever.details) == (FEVER_ALERT, "east", {"entry_uid": "a1", "body_c": 38.2})
    assert "suhu tinggi" in fever.text_id and "high temperature" in fever.text_en
    assert alerts.decided(500.0, "denied", ["fever"], "a2", 38.0) == []  # within the cooldown (900 s)
    assert [a.kind for a in alerts.decided(1400.0, "denied", ["fever"], "a3", 38.4)] == [FEVER_ALERT]
    assert alerts.decided(1500.0, "allowed", ["fever"], "a4", 38.4) == []  # flagged in, not denied
    assert watch(store_temperatures=False, denials=0).decided(1.0, "denied", ["fever"], "b", 39.0)[0].details == \
        {"entry_uid": "b"}  # outcome-only logging: no temperature leaves the gate either


def test_a_run_of_denials_within_the_window_is_one_alert():
    alerts = watch(fever=False, denials=3, denials_window_s=60, cooldown_s=300)
    assert alerts.decided(0.0, "denied", ["no_mask"], "1") == []
    assert alerts.decided(30.0, "denied", ["no_mask"], "2") == []
    assert alerts.decided(61.0, "denied", ["no_mask"], "3") == []  # the first has left the window
    [run] = alerts.decided(62.0, "denied", ["mask_incorrect"], "4")
    assert run.kind == DENIALS_ALERT and run.details == {"denied": 3, "window_s": 60}
    assert alerts.decided(63.0, "denied", ["no_mask"], "5") == []  # cooled down for 300 s
    assert [a.kind for a in alerts.decided(400.0, "denied", ["no_mask"], "6") +
            alerts.decided(401.0, "denied", ["no_mask"], "7") +
            alerts.decided(402.0, "denied", ["no_mask"], "8")] == [DENIALS_ALERT]


def test_a_device_down_long_enough_is_one_alert_per_outage():
    alerts = watch(device_down_s=120, cooldown_s=0)
    assert alerts.health(0.0, "scanner", "down") == []
    assert alerts.tick(119.0) == []
    [down] = alerts.tick(125.0)
    assert down.kind == DEVICE_DOWN_ALERT and down.details == {"component": "scanner", "down_s": 125.0}
    assert "2 min" in down.text_en and "2 menit" in down.text_id
    assert alerts.tick(500.0) == []  # once per outage
    assert alerts.health(600.0, "scanner", "ok") == []
    assert alerts.health(700.0, "scanner", "down") == [] and len(alerts.tick(830.0)) == 1  # a new outage
    assert alerts.health(0.0, "mqtt", "down") == [] and alerts.tick(10_000.0) == []  # not a gate device
    assert watch(device_down_s=0).health(0.0, "camera", "down") == []


def test_alerts_need_a_sink_to_go_through(tmp_path):
    path = tmp_path / "gate.toml"
    path.write_text("[alerts]\nenabled = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"alerts.enabled needs \[mqtt\] or \[webhooks\] enabled"):
        load_settings(path, environ={})
    Settings.model_validate({"alerts": {"enabled": True}, "webhooks": {"enabled": True, "url": "https://h.example/x",
                                                                        "secret": "s" * 16}})


BARE = {"mask": 0.03, "no_mask": 0.94, "mask_incorrect": 0.03}


@pytest.mark.mqtt
def test_a_run_of_denials_under_a_live_agent_reaches_mqtt_and_the_webhook(tmp_path, broker, mqtt_topics, receiver):
    prefix, discovery, subscriber = mqtt_topics
    settings = agent_settings(tmp_path, {"port": broker[1], "topic_prefix": prefix, "discovery_prefix": discovery},
                              {"url": receiver.url})
    settings = Settings.model_validate({**settings.model_dump(), "alerts": {"enabled": True, "denials": 2}})
    engine = open_database(settings.database_url)
    runtime = AgentRuntime(settings, engine=engine, heartbeat_s=0.2).start()
    topic = f"{prefix}/{GATE}/alert"
    try:
        visitor(runtime, BARE)
        assert wait_until(lambda: subscriber.json(f"{prefix}/{GATE}/entry"), 10)
        assert subscriber.json(topic) == []  # one denial is no alert
        time.sleep(0.8)  # the next visitor, apart from the first
        visitor(runtime, BARE)
        assert wait_until(lambda: subscriber.json(topic), 10), "no alert on MQTT"
        [run] = subscriber.json(topic)
        assert run["alert"] == "denials" and run["denied"] == 2 and run["kind"] == "alert" and run["gate"] == GATE
        assert "2 visitors denied" in run["text_en"] and "2 pengunjung ditolak" in run["text_id"]
        assert wait_until(lambda: receiver.of_kind("alert") == [run], 5)  # the same JSON, signed
    finally:
        runtime.stop()
        engine.dispose()


@pytest.mark.mqtt
def test_a_confirmed_fever_goes_out_with_its_entry(tmp_path, broker, mqtt_topics):
    prefix, discovery, subscriber = mqtt_topics
    settings = gate_settings(tmp_path, mqtt={"enabled": True, "port": broker[1], "topic_prefix": prefix,
                                             "discovery_prefix": discovery, "retry_max_s": 0.5},
                             alerts={"enabled": True})
    gate = Gate(settings)
    try:
        row = make_entry(GATE, 1)
        row.outcome, row.reasons, row.primary_reason, row.body_c = "denied", "fever", "fever", 38.4
        gate.recorder.submit(row)
        gate.events.decided(row)  # the agent's decision listener
        assert wait_until(lambda: subscriber.json(f"{prefix}/{GATE}/alert"), 10)
        [fever] = subscriber.json(f"{prefix}/{GATE}/alert")
        assert (fever["alert"], fever["entry_uid"], fever["body_c"]) == ("fever", row.uid, 38.4)
        assert wait_until(lambda: [e["uid"] for e in subscriber.json(f"{prefix}/{GATE}/entry")] == [row.uid], 10)
    finally:
        gate.stop()

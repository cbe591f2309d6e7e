"""Fixtures for the events-out tests: the real MQTT broker, a subscriber, a local webhook receiver.

The broker is the machine's Mosquitto (CHECKPOINT_TEST_MQTT, default 127.0.0.1:1883); a test that needs it
skips, saying so, when none answers. Each test publishes under topic prefixes of its own, and the retained
messages it left are cleared at the end, so tests neither see nor leave each other's state."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "multigate"))  # tcp_proxy, gate_helpers

from events_helpers import Receiver, Subscriber, clear_retained, mqtt_client  # noqa: E402

MQTT_ADDRESS = os.environ.get("CHECKPOINT_TEST_MQTT", "127.0.0.1:1883")


def _address() -> tuple[str, int]:
    host, _, port = MQTT_ADDRESS.rpartition(":")
    return host or "127.0.0.1", int(port or 1883)


@pytest.fixture
def broker() -> tuple[str, int]:
    """(host, port) of a broker that answers an MQTT CONNECT, else the test is skipped."""
    host, port = _address()
    client = mqtt_client()
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    try:
        client.connect(host, port, keepalive=10)
        client.loop_start()
        ok = connected.wait(3)
    except Exception as exc:
        pytest.skip(f"no MQTT broker at {host}:{port} ({type(exc).__name__}: {exc}); start Mosquitto "
                    "(mosquitto -d) or set CHECKPOINT_TEST_MQTT=host:port")
    finally:
        client.disconnect()
        client.loop_stop()
    if not ok:
        pytest.skip(f"the MQTT broker at {host}:{port} did not answer a CONNECT within 3 s")
    return host, port


@pytest.fixture
def mqtt_topics(broker):
    """Fresh topic and discovery prefixes, a subscriber to both, and the retained messages cleared after."""
    host, port = broker
    tag = uuid.uuid4().hex[:8]
    prefix, discovery = f"cptest-{tag}", f"cptest-ha-{tag}"
    subscriber = Subscriber(host, port, f"{prefix}/#", f"{discovery}/#")
    yield prefix, discovery, subscriber
    subscriber.close()
    clear_retained(host, port, f"{prefix}/#", f"{discovery}/#")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.down()

"""Fixtures for the events-out tests: the real MQTT broker, a subscriber, a local webhook receiver.

The broker is the machine's Mosquitto (CHECKPOINT_TEST_MQTT, default 127.0.0.1:1883); a test that needs it
skips, saying so, when none answers. Each test publishes under topic prefixes of its own, and the retained
messages it left are cleared at the end, so tests neither see nor leave each other's state."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "multigate"))  # tcp_proxy, gate_helpers

from checkpoint.events_out.webhook import SIGNATURE_HEADER, verify  # noqa: E402

MQTT_ADDRESS = os.environ.get("CHECKPOINT_TEST_MQTT", "127.0.0.1:1883")
SECRET = "test-secret-0123456789"


def _address() -> tuple[str, int]:
    host, _, port = MQTT_ADDRESS.rpartition(":")
    return host or "127.0.0.1", int(port or 1883)


def _client():
    import paho.mqtt.client as mqtt

    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cptest-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def broker() -> tuple[str, int]:
    """(host, port) of a broker that answers an MQTT CONNECT, else the test is skipped."""
    host, port = _address()
    client = _client()
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
        client.loop_stop()
        client.disconnect()
    if not ok:
        pytest.skip(f"the MQTT broker at {host}:{port} did not answer a CONNECT within 3 s")
    return host, port


class Subscriber:
    """Everything published under some topic filters, in arrival order (QoS 1)."""

    def __init__(self, host: str, port: int, *filters: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = _client()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._ready.set()
        self.filters = filters
        self.client.connect(host, port, keepalive=10)
        self.client.subscribe([(f, 1) for f in filters])
        self.client.loop_start()
        assert self._ready.wait(5), "the subscription was not acknowledged"

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _retain in self.messages if t == topic]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(payload) for payload in self.on(topic) if payload]

    def close(self) -> None:
        self.client.disconnect()  # first: it wakes the network thread, which then ends at once
        self.client.loop_stop()


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


def clear_retained(host: str, port: int, *filters: str) -> None:
    sweeper = Subscriber(host, port, *filters)
    time.sleep(0.3)  # the retained ones arrive right after the subscription
    topics = {topic for topic, payload, retain in sweeper.messages if retain and payload}
    for topic in topics:
        sweeper.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(3)
    sweeper.close()


class Receiver:
    """A webhook receiver on 127.0.0.1: checks each signature, records each delivery, can go down and up.

    ``answer(payload) -> status`` decides the reply (200 unless told otherwise)."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.deliveries: list[dict] = []  # payloads, in arrival order, signature checked
        self.requests: list[tuple[dict, bytes]] = []  # every request: headers, body
        self.bad_signatures = 0
        self.answer: Callable[[dict], int] = lambda payload: 200
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/checkpoint"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._receive(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _receive(self, headers: dict, body: bytes) -> int:
        with self._lock:
            self.requests.append((headers, body))
            if not verify(body, self.secret, headers.get(SIGNATURE_HEADER.lower())):
                self.bad_signatures += 1
                return 401
            payload = json.loads(body)
            status = self.answer(payload)
            if 200 <= status < 300:
                self.deliveries.append(payload)
            return status

    def of_kind(self, kind: str) -> list[dict]:
        with self._lock:
            return [p for p in self.deliveries if p["kind"] == kind]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.down()


def dedup(uids: list[str]) -> tuple[list[str], int]:
    """First occurrences in order, and how many repeats were dropped (what a consumer does by uid)."""
    seen: set[str] = set()
    first = []
    for uid in uids:
        if uid not in seen:
            seen.add(uid)
            first.append(uid)
    return first, len(uids) - len(first)

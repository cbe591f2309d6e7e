"""Helpers for the events tests: a gate's writing half (the real recorder on a SQLite log, EventsOut on it),
an MQTT subscriber, a webhook receiver. A module of its own, not conftest, so imports name this file."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

from gate_helpers import make_entry

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.events_out import EventsOut
from checkpoint.events_out.webhook import SIGNATURE_HEADER, verify
from checkpoint.health import HealthRegistry
from checkpoint.recorder import Recorder

GATE = "east"
SECRET = "test-secret-0123456789"


def gate_settings(tmp_path, **sections) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path), "gate": {"id": GATE},
                                    "database": {"url": f"sqlite:///{tmp_path / 'gate.db'}"}, **sections})


class Gate:
    """Recorder + EventsOut on one log, wired as the runtime wires them; ``restart()`` is a new process."""

    def __init__(self, settings: Settings, occupancy=None) -> None:
        self.settings = settings
        self.occupancy = occupancy
        self.submitted: list[str] = []
        self.start()

    def start(self) -> "Gate":
        self.engine = open_database(self.settings.database_url)
        self.health = HealthRegistry()
        self.recorder = Recorder(self.engine, self.health.reporter("database")).start()
        self.events = EventsOut(self.settings, self.engine, self.health, occupancy=self.occupancy,
                                poll_s=0.2, retry_initial_s=0.1)
        self.recorder.on_committed(self.events.kick)
        self.health.on_change(self.events.health_changed)
        self.events.start()
        return self

    def entry(self, n: int) -> str:
        row = make_entry(GATE, n)
        self.submitted.append(row.uid)
        self.recorder.submit(row)
        return row.uid

    def stop(self, flush_timeout: float = 2.0) -> bool:
        self.recorder.stop()
        flushed = self.events.stop(flush_timeout)
        self.engine.dispose()
        return flushed

    def restart(self, flush_timeout: float = 2.0) -> "Gate":
        self.stop(flush_timeout)
        return self.start()


def mqtt_client():
    import paho.mqtt.client as mqtt

    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cptest-{uuid.uuid4().hex[:8]}")


class Subscriber:
    """Everything published under some topic filters, in arrival order (QoS 1)."""

    def __init__(self, host: str, port: int, *filters: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt_client()
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


def dedup(uids: list[str]) -> tuple[list[str], int]:
    """First occurrences in order, and how many repeats were dropped (what a consumer does by uid)."""
    seen: set[str] = set()
    first = []
    for uid in uids:
        if uid not in seen:
            seen.add(uid)
            first.append(uid)
    return first, len(uids) - len(first)

"""MQTT (paho-mqtt): events on ``<prefix>/<gate>/<kind>``, QoS 1, a retained state and a last will.

One connection at a time, driven by the sink's own thread (``client.loop()``
in short slices, no paho thread): connect with the last will
``<prefix>/<gate>/availability`` = "offline" (retained), announce "online",
the Home Assistant discovery configs and the gate state (all retained), then
publish each batch and wait for every PUBACK. The cursors move over the
acknowledged prefix only. A lost connection, or a PUBACK missing for
``ack_timeout_s``, drops the client; the next connection is a clean session
and sends again from the first event not acknowledged, so a consumer sees
every event at least once and in order (a repeat, the uid tells, only around
an outage). A clean stop publishes "offline" itself.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Optional

from checkpoint.events_out.payloads import Event, encode
from checkpoint.events_out.sink import Sink, Unavailable
from checkpoint.events_out.state import OFFLINE, ONLINE, GateState, discovery, same_state
from checkpoint.health import short_error

if TYPE_CHECKING:
    from paho.mqtt.client import Client

log = logging.getLogger(__name__)

MAX_INFLIGHT = 50
STATE_CHECK_S = 5.0  # a quiet gate's state is looked at this often (it is published when it changed)
SLICE_S = 0.05  # the network loop's slice: how soon a kick is noticed while idle


class MqttSink(Sink):
    name = "mqtt"

    def __init__(self, outbox, reporter, config, settings, state: Optional[GateState] = None,
                 door_driven: bool = False, **kwargs) -> None:
        super().__init__(outbox, reporter, retry_max_s=config.retry_max_s, **kwargs)
        self.config, self.settings, self.state, self.door_driven = config, settings, state, door_driven
        gate = settings.gate.id
        self.base = f"{config.topic_prefix}/{gate}"
        self.availability = f"{self.base}/availability"
        self.client_id = config.client_id or f"checkpoint-{gate}"
        self._client: Optional[Client] = None
        self._connected = False
        self._connack = None
        self._state_sent: Optional[dict] = None
        self._state_at = float("-inf")
        self._state_checked = float("-inf")
        self.connections = 0

    def topic(self, kind: str) -> str:
        return f"{self.base}/{kind}"

    # -- the connection ------------------------------------------------------------------

    def _ready(self) -> None:
        if self._client is not None and self._connected:
            return
        self._broken()
        self._connect()

    def _connect(self) -> None:
        import paho.mqtt.client as mqtt

        config = self.config
        where = f"{config.host}:{config.port}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True,
                             protocol=mqtt.MQTTv311)
        client.connect_timeout = config.connect_timeout_s
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)
        client.will_set(self.availability, OFFLINE, qos=1, retain=True)
        if config.username:
            client.username_pw_set(config.username, config.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._connack = None
        try:
            if config.tls:
                client.tls_set(ca_certs=config.ca_file or None)
            client.connect(config.host, config.port, keepalive=config.keepalive_s)
        except (OSError, ValueError) as exc:
            raise Unavailable(f"MQTT broker {where} unreachable: {short_error(exc)}") from None
        self._client, self._connected = client, True
        deadline = time.monotonic() + config.connect_timeout_s
        while self._connack is None:
            if client.loop(SLICE_S) != mqtt.MQTT_ERR_SUCCESS or time.monotonic() > deadline:
                raise Unavailable(f"MQTT broker {where} did not answer the connection")
        if self._connack.is_failure:
            raise Unavailable(f"MQTT broker {where} refused the connection: {self._connack}")
        self.connections += 1
        log.info("events out: connected to the MQTT broker %s as %s", where, self.client_id)
        self.reporter.ok(self.clock(), self._ok_message())  # before the state below, which shows it
        messages = [(self.availability, ONLINE.encode(), True)]
        if self.config.discovery:
            messages += [(topic, payload, True) for topic, payload in
                         discovery(self.settings, config.topic_prefix, config.discovery_prefix, self.door_driven)]
        self._publish(messages)
        self._state_sent = None  # published again on this connection

    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self._connack = reason_code

    def _on_disconnect(self, _client, _userdata, _flags, _reason_code, _properties) -> None:
        self._connected = False

    def _broken(self) -> None:
        client, self._client, self._connected = self._client, None, False
        if client is None:
            return
        try:
            client.disconnect()
            client.loop(0.01)
        except Exception:  # a dead socket: nothing to say goodbye on
            pass
        try:
            if client.socket() is not None:
                client._sock_close()  # noqa: SLF001 (paho has no public close of a dead socket)
        except Exception:
            pass

    def _close(self) -> None:
        if self._client is not None and self._connected:
            try:
                self._publish([(self.availability, OFFLINE.encode(), True)], timeout=2.0)
            except Unavailable:
                pass  # the broker sends the last will when it notices
        self._broken()

    # -- publishing ------------------------------------------------------------------------

    def _publish(self, messages: list[tuple[str, bytes, bool]], timeout: Optional[float] = None) -> int:
        """Publish at QoS 1 and wait for every PUBACK; Unavailable with the acknowledged prefix otherwise."""
        import paho.mqtt.client as mqtt

        client = self._client
        assert client is not None, "publishing needs a connection (_ready, _connect)"
        infos = []
        for topic, payload, retain in messages:
            info = client.publish(topic, payload, qos=1, retain=retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                break
            infos.append(info)
        deadline = time.monotonic() + (self.config.ack_timeout_s if timeout is None else timeout)
        while True:
            acked = 0
            for info in infos:
                try:
                    if not info.is_published():
                        break
                except (RuntimeError, ValueError):
                    break
                acked += 1
            if acked == len(messages):
                return acked
            if not self._connected or len(infos) < len(messages):
                raise Unavailable(f"MQTT connection to {self.config.host}:{self.config.port} lost", acked)
            if time.monotonic() > deadline:
                raise Unavailable(f"MQTT broker {self.config.host}:{self.config.port} sent no PUBACK for "
                                  f"{self.config.ack_timeout_s:g} s", acked)
            if client.loop(SLICE_S) != mqtt.MQTT_ERR_SUCCESS:
                self._connected = False

    def _send(self, events: list[Event]) -> int:
        return self._publish([(self.topic(event.kind), event.body, False) for event in events])

    def _after_pass(self, sent: bool) -> None:
        if self.state is None:
            return
        if not sent and time.monotonic() - self._state_checked < min(self.config.state_s, STATE_CHECK_S):
            return  # a quiet gate: look again in a few seconds (occupancy, the day), not at every poll
        self._state_checked = time.monotonic()
        document = self.state.document()
        if same_state(document, self._state_sent) and time.monotonic() - self._state_at < self.config.state_s:
            return
        self._publish([(self.topic("state"), encode(document), True)])
        self._state_sent, self._state_at = document, time.monotonic()

    def _ok_message(self) -> str:
        return f"broker {self.config.host}:{self.config.port}"

    def _idle(self, seconds: float) -> None:
        import paho.mqtt.client as mqtt

        end = time.monotonic() + seconds
        while not self._wake.is_set() and not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._client is None or not self._connected:
                self._wake.wait(left)
                return
            if self._client.loop(min(SLICE_S, left)) != mqtt.MQTT_ERR_SUCCESS:
                self._connected = False
                return

"""Webhooks against a local HTTP server: signed bodies, the receiver down during a stream of entries,
refusals set aside as dead letters, 5xx retried, a restart with the receiver down.

The acceptance's "receiver down for 30 s" is scaled down to a few seconds: the sink retries with a backoff
capped at retry_max_s whatever the outage's length, the entries wait in the log, and the suite has a time
budget."""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pytest
from events_helpers import GATE, SECRET, Gate, gate_settings
from polling import wait_until

from checkpoint.events_out.payloads import encode
from checkpoint.events_out.webhook import sign, verify
from checkpoint.health import DOWN, OK

OUTAGE_S = 3.0  # stands for the acceptance's 30 s (see above)


def hook_settings(tmp_path, url, **extra):
    return gate_settings(tmp_path, webhooks={"enabled": True, "url": url, "secret": SECRET, "retry_max_s": 0.3,
                                             "timeout_s": 2.0, **extra})


def entry_uids(receiver) -> list[str]:
    return [payload["uid"] for payload in receiver.of_kind("entry")]


def test_signature_is_hmac_sha256_of_the_body():
    body = encode({"kind": "entry", "uid": "abc", "gate": GATE})
    header = sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(body, SECRET, header)
    assert not verify(body + b" ", SECRET, header) and not verify(body, SECRET + "x", header)
    assert not verify(body, SECRET, None) and not verify(body, SECRET, "")
    import hashlib
    import hmac  # what docs/events.md tells a receiver to do

    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.slow
def test_receiver_down_during_a_stream_every_entry_arrives_once_in_order(tmp_path, receiver):
    gate = Gate(hook_settings(tmp_path, receiver.url))
    try:
        def stream() -> None:
            for n in range(60):
                gate.entry(n)
                time.sleep(0.05)

        writer = threading.Thread(target=stream)
        writer.start()
        time.sleep(0.8)
        receiver.down()
        committed = gate.recorder.committed
        assert wait_until(lambda: gate.health.get("webhook").state == DOWN, 3)
        assert "unreachable" in gate.health.get("webhook").message
        time.sleep(OUTAGE_S)
        assert gate.recorder.committed - committed > 30  # decisions went on being logged meanwhile
        receiver.up()
        writer.join()
        assert wait_until(lambda: len(entry_uids(receiver)) >= 60, 15)
        time.sleep(0.3)
        assert entry_uids(receiver) == gate.submitted  # every entry, once, in order
        assert receiver.bad_signatures == 0
        headers, body = receiver.requests[-1]
        payload = json.loads(body)
        assert headers["x-checkpoint-event"] == payload["kind"]
        assert headers["x-checkpoint-delivery"] == payload["uid"]
        assert headers["x-checkpoint-gate"] == GATE
        assert headers["content-type"].startswith("application/json")
        assert wait_until(lambda: gate.health.get("webhook").state == OK, 3)
    finally:
        gate.stop()


@pytest.mark.slow
def test_a_refused_event_becomes_a_dead_letter_and_the_next_ones_go(tmp_path, receiver):
    gate = Gate(hook_settings(tmp_path, receiver.url, max_attempts=3))
    try:
        refused = gate.entry(1)
        busy = {"left": 2}

        def answer(payload) -> int:
            if payload["uid"] == refused:
                return 422  # this receiver cannot take this event
            if payload.get("sensor_id") == "n2" and busy["left"]:
                busy["left"] -= 1
                return 503  # busy: retried, never a dead letter
            return 200

        receiver.answer = answer
        gate.entry(2)
        gate.entry(3)
        assert wait_until(lambda: len(entry_uids(receiver)) == 2, 10)
        assert entry_uids(receiver) == gate.submitted[1:]
        assert busy["left"] == 0
        assert sum(1 for _h, body in receiver.requests if json.loads(body)["uid"] == refused) == 3
        component = gate.health.get("webhook")
        assert component.counters["dead_letters"] == 1
        assert wait_until(lambda: "1 dead letters" in gate.health.get("webhook").message, 3)
        path = tmp_path / f"webhook-dead-{GATE}.jsonl"
        [line] = path.read_text().splitlines()
        letter = json.loads(line)
        assert letter["status"] == 422 and letter["event"]["uid"] == refused
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        gate.stop()
    gate.start()  # the count survives a restart: it is the file's
    try:
        assert gate.health.get("webhook").counters["dead_letters"] == 1
    finally:
        gate.stop()


def test_a_restart_with_the_receiver_down_loses_nothing(tmp_path, receiver):
    receiver.down()
    gate = Gate(hook_settings(tmp_path, receiver.url))
    try:
        for n in range(8):
            gate.entry(n)
        assert wait_until(lambda: gate.recorder.committed == 8, 5)
        assert gate.stop(flush_timeout=0.3) is False
        receiver.up()
        gate.start()
        gate.entry(8)
        assert wait_until(lambda: len(entry_uids(receiver)) == 9, 10)
        time.sleep(0.3)
        assert entry_uids(receiver) == gate.submitted
    finally:
        gate.stop()

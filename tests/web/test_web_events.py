"""The event broker: one poller, fan-out, bounded queues, catching up with Last-Event-ID, the /events stream."""

from __future__ import annotations

import http.client
import queue
import threading
import time
from datetime import datetime, timezone

import pytest
from web_helpers import make_entry, store, store_status

from checkpoint.models import Exit, Override
from checkpoint.recorder import Recorder, gate_status
from web.events import CLOSED, Broker, Cursor, stream


def test_cursor_round_trip_and_bad_ids():
    assert Cursor.parse(Cursor(12, 3, 4).token()) == Cursor(12, 3, 4)
    assert Cursor.parse("junk") is None and Cursor.parse(None) is None and Cursor.parse("1.2") is None


def test_poll_reports_new_entries_overrides_exits_and_status_changes(engine):
    broker = Broker(engine)
    store(engine, make_entry())  # before the broker starts: not an event
    subscriber, start = broker.subscribe()
    try:
        assert start.entry == 1
        (entry,) = store(engine, make_entry(outcome="denied", reasons="fever"))
        now = datetime.now(timezone.utc)
        store(engine, Override(entry_uid=entry.uid, gate_id="gate-1", at=now, by_user="g", outcome="allowed",
                               reason="re-checked 36.9"),
              Exit(gate_id="gate-1", at=now, local_date=entry.local_date),
              gate_status("gate-1", "A", "Asia/Jakarta", {"scanner": {"state": "ok"}}, 0, 0, None, time.time()))
        kinds = {}
        deadline = time.monotonic() + 3
        while len(kinds) < 4 and time.monotonic() < deadline:
            try:
                event = subscriber.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            kinds[event.kind] = event
        assert set(kinds) == {"entry", "override", "exit", "status"}
        assert kinds["entry"].data["outcome"] == "denied" and kinds["entry"].data["uid"] == entry.uid
        assert "id: 2." in kinds["entry"].encode() and "event: entry" in kinds["entry"].encode()
        # an unchanged heartbeat (only its time moves) is not an event
        store_status(engine, gate_status("gate-1", "A", "Asia/Jakarta", {"scanner": {"state": "ok"}}, 0, 0, None,
                                         time.time()))
        assert broker.poll_once() == []
    finally:
        broker.close()


def test_status_event_when_a_gate_falls_silent(engine):
    clock = [time.time()]
    broker = Broker(engine, clock=lambda: clock[0], silent_after_s=10)
    store(engine, gate_status("gate-1", "A", "Asia/Jakarta", {}, 0, 0, None, clock[0]))
    assert [e.data["silent"] for e in broker.poll_once()] == [False]
    clock[0] += 11
    assert [e.data["silent"] for e in broker.poll_once()] == [True]
    broker.close()


def test_slow_subscriber_is_dropped_not_blocking_others(engine):
    broker = Broker(engine, queue_size=3, poll_s=0.05)
    slow, _ = broker.subscribe()
    try:
        store(engine, *[make_entry() for _ in range(10)])
        deadline = time.monotonic() + 3
        while not slow.dropped and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.dropped and broker.subscriber_count == 0
        items = []
        while not slow.queue.empty():
            items.append(slow.queue.get_nowait())
        assert items[-1] is CLOSED
    finally:
        broker.close()


def test_stream_replays_what_a_reconnecting_client_missed(engine):
    broker = Broker(engine, poll_s=0.05)
    first = store(engine, make_entry())[0]
    missed = store(engine, make_entry(outcome="denied", reasons="no_mask"), make_entry(gate_id="gate-2"))
    body = stream(broker, f"{first.id}.0.0", "gate-1", heartbeat_s=0.2)
    try:
        assert next(body).startswith("retry: ")
        replay = next(body)
        assert f'"uid": "{missed[0].uid}"' in replay and '"replay": true' in replay
        assert next(body) == ": heartbeat\n\n"  # gate-2's entry is filtered out; then a heartbeat
        store(engine, make_entry(outcome="denied", reasons="fever"))
        live = next(body)
        assert "event: entry" in live and '"reason": "fever"' in live and "replay" not in live
    finally:
        body.close()
        broker.close()
    assert broker.subscriber_count == 0


@pytest.mark.slow
def test_events_endpoint_streams_a_recorder_commit(app, live_server, auth, client):
    engine = app.extensions["checkpoint"].engine
    recorder = Recorder(engine).start()
    auth.login("guard")
    cookie = client.get_cookie("checkpoint_session").value
    connection = http.client.HTTPConnection("127.0.0.1", live_server.server.port, timeout=5)
    try:
        connection.request("GET", "/events", headers={"Cookie": f"checkpoint_session={cookie}"})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        assert response.readline().startswith(b"retry:")
        received = threading.Event()
        lines = []

        def read():
            while not received.is_set():
                line = response.readline()
                if not line:
                    return
                lines.append(line)
                if line.startswith(b"data:") and b'"outcome": "denied"' in line:
                    received.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.3)  # the stream is subscribed once its first line is sent; give the poller one round
        started = time.monotonic()
        recorder.submit(make_entry(outcome="denied", reasons="fever", body_c=38.0))
        assert received.wait(2.0), lines
        assert time.monotonic() - started < 1.0
    finally:
        recorder.stop()
        connection.close()

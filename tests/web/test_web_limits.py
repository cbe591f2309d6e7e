"""Limits that keep the web app answering (issue 13): event-stream caps per address and in total, request size,
Cache-Control on health data, no server banner, and 400/404 (JSON under /api/) instead of 500s."""

from __future__ import annotations

import http.client
import socket
import time

import pytest
from sqlmodel import Session
from web_helpers import PASSWORD, LiveServer, csrf_from, make_entry, store

from checkpoint.config import Settings
from checkpoint.models import User
from web.events import Broker, StreamRefused, stream


def kiosk_settings(tmp_path, **web) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path),
                                    "web": {"secret_key": "test-secret-key", "kiosk": True, **web}})


class Stream:
    """One raw GET /events from a chosen loopback source address (127.0.0.0/8 all reach 127.0.0.1)."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
        started = time.monotonic()
        self.conn.request("GET", "/events")
        self.response = self.conn.getresponse()
        self.seconds = time.monotonic() - started
        self.status = self.response.status
        if self.status == 200:
            self.first = self.response.fp.readline()  # "retry: 2000": the stream is live
        else:
            self.body = self.response.read().decode()
            self.close()

    def close(self) -> None:
        if self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.response.close()
        self.conn.close()


def timed_get(port: int, path: str) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    started = time.monotonic()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        conn.close()


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def capped(tmp_path, app_factory):
    app = app_factory(kiosk_settings(tmp_path, max_event_streams=3, max_event_streams_per_address=2),
                      EVENTS_HEARTBEAT_S=0.1, EVENTS_POLL_S=0.05)
    server = LiveServer(app)
    server.thread.start()
    yield app, server
    server.stop()


# -- event streams ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_streams_over_the_per_address_and_total_caps_are_refused_while_pages_answer(capped):
    app, server = capped
    broker, port = app.extensions["checkpoint"].broker, server.server.port
    opened = [Stream(port), Stream(port)]
    try:
        assert [s.status for s in opened] == [200, 200]
        third = Stream(port)  # a third from 127.0.0.1
        assert third.status == 429 and "this address" in third.body and "at most 2" in third.body
        assert third.response.getheader("Retry-After") == "30"
        assert third.response.getheader("Content-Type").startswith("text/plain")
        assert third.seconds < 1.0
        opened.append(Stream(port, "127.0.0.2"))
        assert opened[-1].status == 200 and broker.open_streams == 3
        fourth = Stream(port, "127.0.0.3")  # a new address, but the app holds its total
        assert fourth.status == 503 and "at most 3" in fourth.body
        assert fourth.response.getheader("Retry-After") == "30"
        for path in ("/healthz", "/login", "/"):
            status, seconds = timed_get(port, path)
            assert status == 200 and seconds < 1.0, path
        assert broker.open_streams == 3 and broker.streams_from("127.0.0.1") == 2
    finally:
        for s in opened:
            s.close()


@pytest.mark.slow
def test_a_closed_stream_frees_its_slot(capped):
    app, server = capped
    broker, port = app.extensions["checkpoint"].broker, server.server.port
    first, second = Stream(port), Stream(port)
    try:
        assert Stream(port).status == 429
        first.close()  # the server notices at its next write (a heartbeat)
        assert wait_for(lambda: broker.streams_from("127.0.0.1") == 1)
        again = Stream(port)
        assert again.status == 200
        again.close()
    finally:
        first.close()
        second.close()
    assert wait_for(lambda: broker.open_streams == 0)


@pytest.mark.slow
def test_new_entries_still_reach_open_streams_beside_refused_ones(capped):
    app, server = capped
    port, engine = server.server.port, app.extensions["checkpoint"].engine
    streams = [Stream(port), Stream(port)]
    try:
        assert Stream(port).status == 429
        (entry,) = store(engine, make_entry(outcome="denied", reasons="fever"))
        for s in streams:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                line = s.response.fp.readline().decode()
                if entry.uid in line:
                    break
            else:
                pytest.fail("the entry did not reach the stream")
    finally:
        for s in streams:
            s.close()


def test_a_stream_whose_body_never_started_gives_its_slot_back(tmp_path, app_factory):
    app = app_factory(kiosk_settings(tmp_path, max_event_streams_per_address=1))
    broker, client = app.extensions["checkpoint"].broker, app.test_client()
    response = client.get("/events")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert broker.open_streams == 1
    refused = client.get("/events")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    response.close()  # the server closes the response without reading its body
    assert broker.open_streams == 0
    assert client.get("/events").status_code == 200


def test_broker_caps_release_once_and_a_dropped_subscriber_keeps_its_slot_until_its_stream_ends(engine):
    broker = Broker(engine, queue_size=1, poll_s=3600, max_streams=3, max_per_address=2)
    try:
        a1, _ = broker.subscribe("a")
        broker.subscribe("a")
        with pytest.raises(StreamRefused) as refused:
            broker.subscribe("a")
        assert refused.value.status == 429
        b1, _ = broker.subscribe("b")
        with pytest.raises(StreamRefused) as refused:
            broker.subscribe("c")
        assert refused.value.status == 503 and refused.value.retry_after_s == 30
        broker.unsubscribe(a1)
        broker.unsubscribe(a1)  # twice: one slot back, not two
        assert broker.open_streams == 2 and broker.streams_from("a") == 1
        store(engine, make_entry(), make_entry())
        broker._publish(broker.poll_once())  # two events into queues of one: both subscribers are dropped
        assert b1.dropped and broker.subscriber_count == 0
        assert broker.open_streams == 2  # but its stream has not ended: it still holds a thread
        body = stream(broker, None, None, heartbeat_s=5, subscription=(b1, None))
        assert list(body)[0].startswith("retry:")  # reads CLOSED, ends, gives the slot back
        assert broker.open_streams == 1 and broker.streams_from("b") == 0
    finally:
        broker.close()


def test_stream_cap_settings_have_defaults_and_descriptions():
    fields = Settings.model_fields["web"].annotation.model_fields
    assert fields["max_event_streams"].default == 500 and fields["max_event_streams"].description
    assert fields["max_event_streams_per_address"].default == 20
    assert fields["max_event_streams_per_address"].description
    with pytest.raises(ValueError):
        Settings.model_validate({"web": {"max_event_streams": 0}})


# -- request size --------------------------------------------------------------------------------------------

def test_a_too_large_request_gets_413_with_a_clear_page(client):
    response = client.post("/login", data={"username": "x", "password": "y" * (2 * 1024 * 1024)},
                           headers={"Accept-Language": "en"})  # (the Indonesian page: test_screen_card)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "413" in page and "too large" in page and "1024 KB" in page
    assert response.headers["Content-Type"].startswith("text/html")


def test_multipart_field_and_part_limits(client):
    multipart = "multipart/form-data"  # werkzeug applies these to multipart bodies; url-encoded ones are
    # bounded by MAX_CONTENT_LENGTH alone
    assert client.post("/login", data={"username": "x", "password": "y" * (100 * 1024)},
                       content_type=multipart).status_code == 413
    assert client.post("/login", data={f"f{i}": "1" for i in range(200)}, content_type=multipart).status_code == 413
    assert client.post("/login", data={"username": "x", "password": "y" * 1000},
                       content_type=multipart).status_code == 400  # within the limits: only the CSRF token fails
    response = client.post("/api/entries", data={"x": "y" * (2 * 1024 * 1024)})
    assert response.status_code == 413 and "too large" in response.get_json()["error"]


@pytest.mark.slow
def test_a_200_mb_post_is_refused_before_its_body_is_read(live_server):
    port = live_server.server.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 200000000\r\n\r\nusername=x&password=" + b"y" * 65536)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")


# -- Cache-Control, banner -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_no_store_on_every_page_and_api_answer_with_health_data(client, auth, engine):
    (entry,) = store(engine, make_entry())
    auth.login("admin")
    for path in ("/", "/screen/live", "/entries", "/reports", f"/override?entry={entry.uid}", "/api/entries",
                 "/api/counts", "/api/health", "/admin/users", "/admin/settings", "/healthz", "/login",
                 "/api/nope", "/nope"):
        response = client.get(path)
        assert response.status_code < 500, path
        assert response.headers.get("Cache-Control") == "no-store", path
        response.close()
    response = client.get("/events")
    assert response.headers["Cache-Control"] == "no-store"
    response.close()
    static = client.get("/static/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


@pytest.mark.slow
def test_built_in_server_sends_no_version_banner(tmp_path):
    from checkpoint.service import WebServer

    web = WebServer(Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k", "port": 0}}))
    web.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(web.url.rsplit(":", 1)[1]), timeout=10)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200
        assert response.getheader("Server") == "checkpoint"
    finally:
        web.stop()
        web._server.server_close()
        web.app.extensions["checkpoint"].close()


# -- no 500s ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("after", ["2026-12-02T00:00:00~1", "2026-12-02T00:00:00.000000Z~99999999999999999999",
                                   "2026-12-02T00:00:00.000000Z~-1", "junk"])
def test_bad_page_cursors_are_400_json(client, auth, after):
    auth.login("manager")
    response = client.get("/api/entries", query_string={"after": after})
    assert response.status_code == 400 and response.get_json() == {"error": "after: not a page cursor"}
    assert client.get("/entries", query_string={"after": after}).status_code == 400


@pytest.mark.parametrize("after", ["nan~1", "inf~1", "1e999~1"])
def test_bad_temperature_cursors_are_400(client, auth, after):
    auth.login("manager")
    response = client.get("/api/entries", query_string={"after": after, "sort": "hottest"})
    assert response.status_code == 400


def test_a_user_id_beyond_64_bits_is_404(client, auth):
    auth.login("admin")
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    response = client.post("/admin/users/1180591620717411303424", data={"csrf_token": token, "action": "enable"})
    assert response.status_code == 404


def test_next_with_cr_lf_is_400(client, users, engine):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "guard", "password": PASSWORD, "csrf_token": token,
                                           "next": "/\r\nSet-Cookie: x=1"})
    assert response.status_code == 400 and "Set-Cookie" not in response.headers.get("Location", "")
    response = client.post("/language", data={"csrf_token": token, "language": "en", "next": "/\r\nX: 1"})
    assert response.status_code == 400
    assert client.get("/login?next=%2F%0D%0AX%3A%201").status_code == 200  # shown in the form, never a header


def test_api_errors_are_json_including_unhandled_ones(tmp_path, app_factory):
    app = app_factory(kiosk_settings(tmp_path))
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("secret detail")

    app.add_url_rule("/api/boom", "boom", boom)
    app.add_url_rule("/boom", "boom_page", boom)
    client = app.test_client()
    response = client.get("/api/boom")
    assert response.status_code == 500 and response.is_json
    assert "secret detail" not in response.get_data(as_text=True) and response.get_json()["error"]
    page = client.get("/boom")
    assert page.status_code == 500 and page.headers["Content-Type"].startswith("text/html")
    assert "secret detail" not in page.get_data(as_text=True)
    for method, path, code in (("GET", "/api/nope", 404), ("DELETE", "/api/entries", 400),
                               ("GET", "/api/entries", 401)):
        response = client.open(path, method=method)
        assert response.status_code == code and response.is_json, (method, path)
    with Session(app.extensions["checkpoint"].engine) as session:
        assert session.get(User, 1) is None

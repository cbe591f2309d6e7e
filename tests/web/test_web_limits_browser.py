"""Headless Chromium: a screen whose event stream is refused (over the per-address cap) backs off and retries."""

from __future__ import annotations

import http.client
import time

import pytest
from web_helpers import LiveServer

from checkpoint.config import Settings

pytestmark = pytest.mark.browser


def test_a_refused_screen_retries_and_goes_live_when_a_slot_frees(tmp_path, app_factory, browser_page):
    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {
        "secret_key": "test-secret-key", "kiosk": True, "max_event_streams_per_address": 1}})
    app = app_factory(settings, EVENTS_HEARTBEAT_S=0.2)
    server = LiveServer(app)
    server.thread.start()
    broker = app.extensions["checkpoint"].broker
    holder = http.client.HTTPConnection("127.0.0.1", server.server.port, timeout=10)
    try:
        holder.request("GET", "/events")  # takes the address's only slot
        held = holder.getresponse()
        assert held.status == 200
        page = browser_page
        page.goto(server.url + "/")
        deadline = time.monotonic() + 10  # refused with 429: the screen plans a retry (polled from here: the
        while (page.evaluate("() => window.checkpointStreamRetries") or 0) < 1:  # page's CSP forbids eval)
            assert time.monotonic() < deadline, "the refused screen planned no retry"
            page.wait_for_timeout(100)
        assert "offline" in page.get_attribute("#conn", "class")
        assert page.locator("#live").count() == 1  # the page itself was served
        held.close()  # the connection ends; the slot frees at the server's next heartbeat
        holder.close()
        page.wait_for_selector("#conn.ok", timeout=15000)  # the retry (2.5-5 s later) is admitted
        assert broker.streams_from("127.0.0.1") == 1
    finally:
        holder.close()
        server.stop()

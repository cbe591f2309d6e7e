"""Headless Chromium: the live screen cannot lie. A decision goes back to waiting after show_s, a scanner
going down closes the gate within 3 s, and a screen that loses its server turns grey within 5 s."""

from __future__ import annotations

import time

import pytest
from web_helpers import LiveServer, make_entry, screenshot, store, store_status

from checkpoint.config import Settings
from checkpoint.recorder import gate_status

pytestmark = pytest.mark.browser

OK = {"state": "ok", "message": "", "last_ok_age_s": 0.2, "counters": {}}
HEALTHY = {"scanner": dict(OK, message="ascii @ /dev/ttyUSB0"), "camera": dict(OK, message="640x480 @ 10 fps"),
           "database": dict(OK), "journal": dict(OK, last_ok_age_s=941.0)}


@pytest.fixture
def kiosk(tmp_path, app_factory, chromium):
    """A kiosk screen (no sign-in) on its own server; yields a function that opens it with a given show_s."""
    opened = []

    def open_screen(show_s: float, path: str = "/"):
        settings = Settings.model_validate({"data_dir": str(tmp_path / f"s{len(opened)}"),
                                            "web": {"secret_key": "k", "kiosk": True},
                                            "visitor": {"show_s": show_s}})
        app = app_factory(settings)
        server = LiveServer(app)
        server.thread.start()
        context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="id-ID")
        opened.append((server, context))
        return app.extensions["checkpoint"].engine, server, context.new_page()

    yield open_screen
    for server, context in opened:
        context.close()
        server.stop()


def heartbeat(engine, components=HEALTHY) -> None:
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 0, None, time.time()))


def test_the_card_goes_back_to_waiting_after_show_s(kiosk):
    engine, server, page = kiosk(2.0)
    heartbeat(engine)
    page.goto(server.url + "/")
    page.wait_for_selector("#conn.ok", timeout=5000)
    (entry,) = store(engine, make_entry(body_c=36.4))
    page.wait_for_selector(f'#decision[data-uid="{entry.uid}"]', timeout=3000)
    assert "DIIZINKAN" in page.inner_text("#decision") and "Pintu Utama" in page.inner_text("#decision")
    page.wait_for_selector('#decision[data-state="waiting"]', timeout=4000)
    shown_s = time.time() - entry.decided_at.timestamp()
    assert 1.8 <= shown_s <= 3.5, shown_s
    text = page.inner_text("#decision")
    assert "Menunggu pengunjung" in text and "Waiting for a visitor" in text and "DIIZINKAN" not in text
    assert "decision-idle" in page.get_attribute("#decision", "class")
    page.wait_for_timeout(300)  # the server agrees on its next panel
    assert page.get_attribute("#decision", "data-state") == "waiting"


def test_scanner_down_closes_the_gate_within_3_s(kiosk):
    engine, server, page = kiosk(30.0)
    heartbeat(engine)
    store(engine, make_entry(body_c=36.5))
    page.goto(server.url + "/")
    page.wait_for_selector("#conn.ok", timeout=5000)
    assert page.get_attribute("#decision", "data-state") == "decision"
    assert "DIIZINKAN" in page.inner_text("#decision")
    heartbeat(engine, dict(HEALTHY, scanner={"state": "down", "message": "no data for 3 s", "last_ok_age_s": 3.0,
                                             "counters": {"reconnects": 1}}))
    started = time.monotonic()
    page.wait_for_selector("#decision.decision-closed", timeout=3000)
    elapsed = time.monotonic() - started
    text = page.inner_text("#decision")
    assert "PINTU DITUTUP" in text and "GATE CLOSED" in text and "Hubungi petugas" in text and "See the officer" in text
    assert "sensor suhu mati" in text and "DIIZINKAN" not in text
    box = page.locator("#decision").bounding_box()
    assert box["width"] > 1000 and box["height"] > 400  # the full-size card, not a dot in the side panel
    print(f"scanner down to 'gate closed' on screen: {elapsed:.2f} s")
    assert elapsed < 3.0
    screenshot(page, "screen_gate_closed")


def test_a_screen_that_loses_its_server_turns_grey_within_5_s(kiosk):
    engine, server, page = kiosk(120.0)
    heartbeat(engine)
    store(engine, make_entry(body_c=36.5))
    page.goto(server.url + "/")
    page.wait_for_selector("#conn.ok", timeout=5000)
    page.wait_for_timeout(6000)  # a quiet stream (no events) keeps the screen live: it ticks every 2 s
    assert page.evaluate("window.checkpointLost") is False
    assert "DIIZINKAN" in page.inner_text("#decision")
    heartbeat(engine)
    server.stop()
    started = time.monotonic()
    page.wait_for_selector("#live.lost", timeout=5000)
    elapsed = time.monotonic() - started
    text = page.inner_text("#decision")
    assert "KONEKSI TERPUTUS" in text and "CONNECTION LOST" in text
    assert "DIIZINKAN" not in text and "Silakan masuk" not in text and "36.5" not in text
    grey = page.evaluate("getComputedStyle(document.getElementById('decision')).backgroundColor")
    assert grey == "rgb(107, 115, 124)", grey
    assert "stale" in page.get_attribute("#health", "class")
    note = page.inner_text("#health .stale-note")
    assert note.startswith("Data lama: terakhir diperbarui") and note.endswith("lalu"), note
    page.wait_for_timeout(2100)
    assert page.inner_text("#health .stale-note") != note  # its age keeps counting
    print(f"server stopped to 'connection lost' on screen: {elapsed:.2f} s")
    assert elapsed < 5.0
    screenshot(page, "screen_connection_lost")


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 800)])
def test_nothing_on_the_card_is_cut_off(kiosk, size):
    """Each card (a re-test with its time to come back, a flagged entry overridden with a long reason, a
    closed gate with several faults, connection lost) fits its box at both screen sizes."""
    import json
    from datetime import datetime, timezone

    from checkpoint.models import Override

    engine, server, page = kiosk(300.0)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    heartbeat(engine)
    (retest,) = store(engine, make_entry(outcome="remeasure", reasons="fever_retest,mask_uncertain", body_c=37.8,
                                         mask_class="uncertain", rules=json.dumps({"fever": {"rest_s": 300}})))

    def fits(name: str) -> None:
        page.wait_for_timeout(150)
        box = page.evaluate("""() => { const d = document.getElementById('decision');
            const r = d.getBoundingClientRect(), out = [];
            d.querySelectorAll('*').forEach(el => { const b = el.getBoundingClientRect();
                if (b.width && b.height && el.offsetParent !== null &&
                    (b.top < r.top - 1 || b.bottom > r.bottom + 1 || b.left < r.left - 1 || b.right > r.right + 1))
                    out.push(el.className || el.tagName); });
            return {over: d.scrollHeight - d.clientHeight, out: out,
                    page: document.documentElement.scrollHeight - window.innerHeight}; }""")
        screenshot(page, f"card_{name}", sizes=(size,))
        assert box["over"] <= 1 and not box["out"] and box["page"] <= 1, (name, size, box)

    page.goto(server.url + "/")
    page.wait_for_selector(f'#decision[data-uid="{retest.uid}"]')
    assert "kembali pukul" in page.inner_text("#decision")
    fits("retest")
    (flagged,) = store(engine, make_entry(outcome="allowed", flagged=True, reasons="mask_incorrect",
                                          mask_class="mask_incorrect"))
    store(engine, Override(entry_uid=flagged.uid, gate_id="gate-1", at=datetime.now(timezone.utc), by_user="guard",
                           outcome="denied", reason="Mask below the nose after a warning; asked to come back " * 3))
    page.wait_for_selector(".override-note", timeout=3000)
    fits("override")
    store_status(engine, gate_status("gate-2", "Pintu Samping Parkir Timur", "Asia/Jakarta", {}, 0, 0, None,
                                     time.time() - 400))
    heartbeat(engine, dict(HEALTHY, scanner={"state": "down", "message": "no data for 12 s", "last_ok_age_s": 12.0,
                                             "counters": {}},
                           camera={"state": "down", "message": "rtsp://cam-1/stream: connection refused",
                                   "last_ok_age_s": 40.0, "counters": {}}))
    page.wait_for_selector("#decision.decision-closed", timeout=3000)
    fits("closed")
    server.stop()
    page.wait_for_selector("#live.lost", timeout=5000)
    fits("lost")


def test_a_browser_that_blocks_sound_says_so_and_a_tap_enables_it(kiosk):
    """A browser's autoplay rule (headless Chromium has none, so an AudioContext that keeps it: suspended, and
    resumed only by a page touched by a person) makes the button say so; a tap on it enables the sound."""
    engine, server, page = kiosk(8.0)
    page.add_init_script("""(() => {
        class Strict extends EventTarget {
            constructor() { super(); this.state = "suspended"; this.currentTime = 0; this.destination = {}; }
            resume() {
                if (navigator.userActivation && navigator.userActivation.isActive) {
                    this.state = "running"; this.dispatchEvent(new Event("statechange"));
                }
                return Promise.resolve();
            }
        }
        window.AudioContext = Strict;
    })();""")
    page.goto(server.url + "/")
    page.wait_for_selector("#mute.blocked", timeout=3000)
    assert page.inner_text("#mute") == "Bunyi diblokir: ketuk"
    page.click("#mute")
    page.wait_for_function("() => !document.getElementById('mute').classList.contains('blocked')", timeout=3000)
    assert page.inner_text("#mute") == "Bunyi: nyala"  # enabled, not muted
    assert page.evaluate("localStorage.getItem('checkpoint.muted')") is None


def test_the_menu_bar_is_one_row_at_1280_in_both_languages(live_server, chromium, users):
    from web_helpers import PASSWORD

    for locale in ("id-ID", "en-US"):
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale=locale)
        try:
            page = context.new_page()
            page.goto(f"{live_server.url}/login")
            page.fill("input[name=username]", "admin")  # the longest menu
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            for path in ("/reports", "/entries", "/admin/users", "/"):  # the screen last: reached without a tap,
                page.goto(live_server.url + path)  # so its sound may be blocked, the longest button text
                page.wait_for_timeout(800 if path == "/" else 50)
                height = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
                assert height < 60, (locale, path, height, page.inner_text("#mute") if path == "/" else "")
        finally:
            context.close()

"""Headless Chromium on /visitor: every state in Bahasa Indonesia and English, its prompt's audio loaded, back to
waiting after show_s, gate closed and a lost stream, and words big enough to read from 2 m.

Screenshots land in tests/artifacts/visitor_<state>_<size>.png (1920x1080 and 1280x800)."""

from __future__ import annotations

import time

import pytest
from web_helpers import make_entry, screenshot, store, store_status

from checkpoint import reasons as R
from checkpoint.config import Settings
from checkpoint.recorder import gate_status

pytestmark = pytest.mark.browser

OK = {"state": "ok", "message": "", "last_ok_age_s": 0.1, "counters": {}}
TABLET_PX_PER_MM = (1280 ** 2 + 800 ** 2) ** 0.5 / (10.1 * 25.4)  # a 10.1-inch 1280x800 (CSS px) tablet
CAP_HEIGHT = 0.7  # capital letters' height in em, about, for the sans-serif fonts the page asks for


def heartbeat(engine, **components):
    parts = {"scanner": OK, "camera": OK, "database": OK, "door": OK}
    parts.update({name: {"state": state, "message": f"{name} {state}", "counters": {}}
                  for name, state in components.items()})
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", parts, 0, 0, None, time.time()))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "test-secret-key"},
                                    "visitor": {"show_s": 30, "voice_language": "both"}})


@pytest.fixture
def app(app_factory, settings):
    return app_factory(settings, EVENTS_POLL_S=0.05, SILENT_AFTER_S=3600)


@pytest.fixture
def visitor_page(live_server, browser_page, engine):
    heartbeat(engine)
    page = browser_page
    prompts = []
    page.on("response", lambda r: prompts.append((r.url.split("/static/voice/")[1], r.status))
            if "/static/voice/" in r.url else None)
    page.goto(f"{live_server.url}/visitor")
    page.wait_for_function("() => window.visitorPrompts !== undefined")
    page.prompts = prompts
    return page


def words(page) -> dict:
    return page.evaluate("""() => ({
        state: document.getElementById('visitor').dataset.state,
        title_id: document.getElementById('title-id').textContent,
        title_en: document.getElementById('title-en').textContent,
        text_id: document.getElementById('text-id').textContent,
        text_en: document.getElementById('text-en').textContent,
        icon: document.getElementById('pictogram').getAttribute('href'),
        background: getComputedStyle(document.getElementById('visitor')).backgroundColor,
        lang_id: document.getElementById('text-id').lang, lang_en: document.getElementById('text-en').lang})""")


def shows(page, state: str, timeout: float = 5000) -> dict:
    page.wait_for_function("(s) => document.getElementById('visitor').dataset.state === s", arg=state,
                           timeout=timeout)
    return words(page)


STATES = [  # outcome, reasons, state, Indonesian and English words expected, pictogram, prompt
    ("allowed", "", "allowed", ("Silakan masuk", "Please enter", "Terima kasih.", "Thank you."), "enter", "welcome"),
    ("denied", "no_mask", "denied", ("Belum dapat masuk", "You cannot enter yet", "Wajib memakai masker.",
                                     "A face mask is required."), "mask", "no_mask"),
    ("denied", "mask_incorrect", "denied", ("Belum dapat masuk", "You cannot enter yet",
                                            "Mohon pakai masker dengan benar: tutupi hidung dan mulut.",
                                            "Please cover your nose and mouth."), "mask", "mask_incorrect"),
    ("denied", "fever", "denied", ("Belum dapat masuk", "You cannot enter yet", "Mohon ke petugas",
                                   "Please see the officer"), "fever", "fever"),
    ("denied", "capacity_full", "denied", ("Belum dapat masuk", "You cannot enter yet",  # the screens' words
                                           R.message("capacity_full", "id"), R.message("capacity_full", "en")),
     "full", "capacity_full"),
    ("remeasure", "no_reading", "measure", ("Ukur suhu", "Measure your temperature", "Ukur suhu tubuh di sensor.",
                                            "Please measure your temperature at the sensor."), "thermometer",
     "no_reading"),
    ("remeasure", "fever_retest", "remeasure", ("Ukur ulang", "Measure again",
                                                "istirahat 5 menit, lalu ukur ulang pukul",
                                                "rest for 5 minutes, then measure again at"), "rest", "fever_retest"),
    ("remeasure", "no_face", "remeasure", ("Ukur ulang", "Measure again", "Hadapkan wajah ke kamera.",
                                           "Please face the camera."), "face", "no_face"),
]


def test_every_state_in_both_languages_with_its_prompt(visitor_page, engine):
    page = visitor_page
    seen = shows(page, "waiting")
    assert (seen["title_id"], seen["title_en"]) == ("Selamat datang", "Welcome")
    assert "ukur suhu di sensor" in seen["text_id"] and "measure your temperature" in seen["text_en"]
    assert (seen["lang_id"], seen["lang_en"]) == ("id", "en")
    screenshot(page, "visitor_waiting")
    backgrounds = {seen["background"]}
    for outcome, reasons, state, (title_id, title_en, text_id, text_en), icon, prompt in STATES:
        page.evaluate("() => { document.getElementById('visitor').dataset.state = 'next'; }")
        store(engine, make_entry(outcome=outcome, reasons=reasons, primary_reason=reasons))
        seen = shows(page, state)
        assert (seen["title_id"], seen["title_en"]) == (title_id, title_en), reasons
        assert text_id in seen["text_id"] and text_en in seen["text_en"], (reasons, seen)
        assert seen["icon"] == f"#p-{icon}"
        for language in ("id", "en"):  # voice_language = both: Indonesian, then English
            page.wait_for_function("(u) => window.visitorPrompts.some((p) => p.endsWith(u))",
                                   arg=f"/{language}/{prompt}.ogg")
        backgrounds.add(seen["background"])
        screenshot(page, f"visitor_{state}_{reasons or 'welcome'}")
    assert len(backgrounds) == 5  # waiting, measure, allowed, denied, measure again: each its own colour
    page.wait_for_timeout(300)
    served = {url: status for url, status in page.prompts}
    assert served.get("id/mask_incorrect.ogg") in (200, 206) and served.get("en/welcome.ogg") in (200, 206)


def test_back_to_waiting_after_show_s(app_factory, tmp_path, browser_page):
    from web_helpers import LiveServer

    settings = Settings.model_validate({"data_dir": str(tmp_path / "short"), "web": {"secret_key": "k"},
                                        "visitor": {"show_s": 1.5}})
    app = app_factory(settings, EVENTS_POLL_S=0.05, SILENT_AFTER_S=3600)
    engine = app.extensions["checkpoint"].engine
    heartbeat(engine)
    server = LiveServer(app)
    server.thread.start()
    try:
        page = browser_page
        page.goto(f"{server.url}/visitor")
        shows(page, "waiting")
        page.wait_for_function("() => window.visitorPrompts !== undefined")
        page.wait_for_timeout(300)  # the stream is open
        store(engine, make_entry())
        shows(page, "allowed")
        started = time.monotonic()
        shows(page, "waiting", timeout=4000)
        assert 1.0 < time.monotonic() - started < 2.5
    finally:
        server.stop()


def test_gate_closed_on_a_device_fault_and_open_again(visitor_page, engine):
    page = visitor_page
    shows(page, "waiting")
    heartbeat(engine, scanner="down")
    seen = shows(page, "closed")
    assert (seen["title_id"], seen["title_en"]) == ("Pintu ditutup", "Gate closed")
    assert (seen["text_id"], seen["text_en"]) == ("Mohon ke petugas.", "Please see the officer.")
    assert seen["icon"] == "#p-closed"
    page.wait_for_function("() => window.visitorPrompts.some((p) => p.endsWith('/closed.ogg'))")
    screenshot(page, "visitor_closed")
    store(engine, make_entry(outcome="denied", reasons="scanner_fault"))  # the gate's own fault denial ...
    page.wait_for_timeout(500)
    assert words(page)["state"] == "closed"  # ... does not replace "closed"
    heartbeat(engine, door="down")  # the relay cannot open the door
    page.wait_for_function("() => document.getElementById('visitor').dataset.why === 'door'")
    heartbeat(engine)
    shows(page, "waiting")


def test_stream_lost_closes_the_gate_on_screen(visitor_page, live_server):
    page = visitor_page
    shows(page, "waiting")
    live_server.app.extensions["checkpoint"].broker.close()  # every stream ends; new ones are refused
    seen = shows(page, "lost", timeout=8000)
    assert (seen["title_id"], seen["title_en"]) == ("Pintu ditutup", "Gate closed")
    assert "terputus" in seen["text_id"] and "lost its connection" in seen["text_en"]
    screenshot(page, "visitor_lost")


@pytest.mark.parametrize("width, height", [(1280, 800), (800, 1280), (1920, 1080)])
def test_readable_from_two_metres_and_never_cut_off(visitor_page, engine, width, height):
    page = visitor_page
    page.set_viewport_size({"width": width, "height": height})
    for reasons in ("mask_incorrect", "fever_retest"):  # the longest words the screen shows
        page.evaluate("() => { document.getElementById('visitor').dataset.state = 'next'; }")
        store(engine, make_entry(outcome="denied" if reasons == "mask_incorrect" else "remeasure", reasons=reasons))
        page.wait_for_function("() => document.getElementById('visitor').dataset.state !== 'next'")
        sizes = page.evaluate("""() => {
            const box = (id) => document.getElementById(id).getBoundingClientRect();
            const px = (id) => parseFloat(getComputedStyle(document.getElementById(id)).fontSize);
            const main = document.getElementById('visitor');
            return {title: px('title-id'), text: px('text-id'), en: px('text-en'),
                    bottom: Math.max(...['title-id', 'title-en', 'text-id', 'text-en'].map((id) => box(id).bottom)),
                    right: Math.max(...['title-id', 'title-en', 'text-id', 'text-en'].map((id) => box(id).right)),
                    overflow: main.scrollHeight > main.clientHeight + 1 || main.scrollWidth > main.clientWidth + 1};
        }""")
        assert not sizes["overflow"] and sizes["bottom"] <= height and sizes["right"] <= width, (reasons, sizes)
        if (width, height) != (1920, 1080):  # on the tablet: capital letters in mm
            mm = {k: sizes[k] * CAP_HEIGHT / TABLET_PX_PER_MM for k in ("title", "text", "en")}
            assert mm["title"] >= 12 and mm["text"] >= 7 and mm["en"] >= 5.3, (reasons, mm)
        screenshot(page, f"visitor_{reasons}", sizes=((width, height),))

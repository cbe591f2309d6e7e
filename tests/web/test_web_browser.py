"""Headless Chromium against the real app on a real SQLite file: live screen, override, log + CSV, login, CSRF.

Screenshots land in tests/artifacts/ at 1920x1080 and 1280x800.
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlmodel import Session, select
from web_helpers import (
    ARTIFACTS,
    PASSWORD,
    LiveServer,
    earlier_today,
    hours_ago,
    make_entry,
    screenshot,
    store,
    store_status,
)

from checkpoint.db import open_database
from checkpoint.models import Entry, Override
from checkpoint.recorder import Recorder, gate_status

pytestmark = pytest.mark.browser

HEALTHY = {
    "scanner": {"state": "ok", "message": "ascii @ /dev/ttyUSB0", "last_ok_age_s": 0.3, "counters": {"bad_lines": 2}},
    "camera": {"state": "ok", "message": "640x480 @ 10 fps", "last_ok_age_s": 0.1, "counters": {}},
    "database": {"state": "ok", "message": "", "last_ok_age_s": 0.5, "counters": {}},
}


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def agent_engine(app):
    """The agent's own engine on the same database file, as a separate process would have."""
    engine = open_database(app.config["DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def busy_day(engine, users):
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", HEALTHY, 0, 60, None, time.time()))
    store_status(engine, gate_status("gate-2", "Pintu Samping", "Asia/Jakarta",
                                     {"scanner": {"state": "down", "message": "no data for 12 s", "last_ok_age_s": 12.0,
                                                  "counters": {"reconnects": 4}}}, 7, 0, None, time.time() - 40))
    rows = []
    for i in range(40):
        when = earlier_today(6 - i * 0.14)
        if i % 9 == 4:
            rows.append(make_entry(when, outcome="denied", reasons="fever", body_c=38.0 + (i % 3) / 10))
        elif i % 7 == 3:
            rows.append(make_entry(when, outcome="denied", reasons="no_mask", mask_class="no_mask", body_c=36.7))
        elif i % 11 == 5:
            rows.append(make_entry(when, outcome="remeasure", reasons="implausible_temperature", body_c=33.1))
        else:
            rows.append(make_entry(when, body_c=36.0 + (i % 9) / 10, gate_id="gate-2" if i % 5 == 0 else "gate-1"))
    return store(engine, *rows)


def test_recorder_decision_appears_on_the_open_screen_within_one_second(live_server, browser_page, agent_engine,
                                                                         busy_day):
    page = browser_page
    login(page, live_server.url, "guard")
    page.goto(f"{live_server.url}/?gate=gate-1")  # all gates: gate-2 is silent, so the card says "gate closed"
    page.wait_for_selector("#conn.ok", timeout=5000)  # the EventSource is open
    page.evaluate("""() => {
        window.seenAt = {};
        new MutationObserver(() => {
            const panel = document.getElementById('decision');
            if (panel && panel.dataset.uid && !(panel.dataset.uid in window.seenAt)) {
                window.seenAt[panel.dataset.uid] = performance.timeOrigin + performance.now();
            }
        }).observe(document.getElementById('live'), {childList: true, subtree: true});
    }""")
    committed = {}
    recorder = Recorder(agent_engine)
    recorder.on_committed(lambda rows: committed.update({r.uid: time.time() for r in rows}))
    recorder.start()
    latencies = []
    try:
        for entry in (make_entry(outcome="denied", reasons="fever", body_c=38.4, mask_class="mask"),
                      make_entry(body_c=36.6), make_entry(outcome="denied", reasons="no_mask", mask_class="no_mask",
                                                         body_c=36.8)):
            recorder.submit(entry)
            page.wait_for_function("uid => window.seenAt && uid in window.seenAt", arg=entry.uid, timeout=3000)
            seen_ms = page.evaluate("uid => window.seenAt[uid]", entry.uid)
            latencies.append(seen_ms / 1000 - committed[entry.uid])
            if entry.reasons == "fever":
                shot_fever = screenshot(page, "screen_denied_fever")
        assert "DITOLAK" in page.inner_text("#decision") and "A face mask is required." in page.inner_text("#decision")
        assert page.evaluate("window.checkpointBeeps") == 2  # one beep per denial
        assert page.inner_text("#count-denied") == str(sum(1 for e in busy_day if e.outcome == "denied") + 2)
        screenshot(page, "screen")
        remeasure = make_entry(outcome="remeasure", reasons="implausible_temperature", body_c=33.2)
        recorder.submit(remeasure)
        page.wait_for_function("uid => uid in window.seenAt", arg=remeasure.uid, timeout=3000)
        assert "decision-caution" in page.get_attribute("#decision", "class")
        assert page.evaluate("window.checkpointBeeps") == 2  # no beep for a re-measure
        screenshot(page, "screen_remeasure", sizes=((1280, 800),))
    finally:
        recorder.stop()
    print("commit-to-screen latencies (s):", [round(x, 3) for x in latencies])
    assert max(latencies) < 1.0, latencies
    assert all(p.exists() for p in shot_fever)


def test_guard_override_kept_with_its_reason(live_server, browser_page, engine, busy_day):
    (entry,) = store(engine, make_entry(outcome="denied", reasons="no_mask", mask_class="no_mask"))
    page = browser_page
    login(page, live_server.url, "guard")
    page.goto(f"{live_server.url}/?gate=gate-1")  # all gates: gate-2 is silent, so the card says "gate closed"
    page.click("#decision a.button")
    page.select_option("select[name=outcome]", "allowed")
    page.fill("textarea[name=reason]", "Face shield worn; medical exemption letter")
    page.click("button[type=submit].primary")
    page.wait_for_selector(".override-note")
    assert "Face shield worn" in page.inner_text(".override-note")
    assert "decision-allowed" in page.get_attribute("#decision", "class")
    with Session(engine) as session:
        original = session.exec(select(Entry).where(Entry.uid == entry.uid)).one()
        override = session.exec(select(Override).where(Override.entry_uid == entry.uid)).one()
    assert original.outcome == "denied" and original.reasons == "no_mask"
    assert (override.outcome, override.by_user, override.reason) == \
        ("allowed", "guard", "Face shield worn; medical exemption letter")
    screenshot(page, "screen_override")


def test_log_filters_and_csv_export_return_the_matching_rows(live_server, browser_page, engine, busy_day, tmp_path):
    older = store(engine, make_entry(hours_ago(50), outcome="denied", reasons="fever", body_c=38.9))
    page = browser_page
    login(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/entries")
    page.select_option("select[name=outcome]", "denied")
    page.select_option("select[name=reason]", "fever")
    page.fill("input[name=tmin]", "38.0")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    want = {e.uid for e in busy_day if e.outcome == "denied" and e.primary_reason == "fever" and e.body_c >= 38.0}
    shown = set(page.eval_on_selector_all("tr[data-uid]", "rows => rows.map(r => r.dataset.uid)"))
    assert shown == want and older[0].uid not in shown
    with page.expect_download() as download_info:
        page.click("#export")
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {r["uid"] for r in rows} == want and len(rows) == len(want)
    assert all(r["local_time"].endswith("+07:00") for r in rows)
    page.goto(f"{live_server.url}/entries")
    screenshot(page, "log")


def test_report_page(live_server, browser_page, engine, busy_day):
    history = []
    for day in range(1, 14):
        for i in range(20 + (day * 7) % 25):
            when = hours_ago(24 * day + 9 - (i % 9))
            reason = ("fever", "no_mask", "mask_incorrect")[(i // 6 + day) % 3]
            history.append(make_entry(when, outcome="denied", reasons=reason) if i % 6 == 0 else make_entry(when))
    store(engine, *history)
    page = browser_page
    login(page, live_server.url, "manager")
    page.goto(f"{live_server.url}/reports")
    assert page.locator("svg.chart").count() == 3
    screenshot(page, "report")
    page.screenshot(path=str(ARTIFACTS / "report_full_page_1280.png"), full_page=True)


def test_manager_page_without_login_redirects_to_login(live_server, browser_page, users):
    page = browser_page
    for path in ("/entries", "/reports", "/admin/users"):
        page.goto(f"{live_server.url}{path}")
        assert page.url.startswith(f"{live_server.url}/login?next=")
        assert page.locator("input[name=password]").count() == 1


def test_form_without_its_csrf_token_is_refused(live_server, browser_page, users):
    page = browser_page
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", "guard")
    page.fill("input[name=password]", PASSWORD)
    page.evaluate("document.querySelector('form[action=\"/login\"] input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as response_info:
        page.click("button[type=submit]")
    assert response_info.value.status == 400
    page.goto(f"{live_server.url}/")
    assert "/login" in page.url  # not signed in


def test_mute_choice_is_remembered(live_server, browser_page, busy_day):
    page = browser_page
    login(page, live_server.url, "guard")
    assert page.inner_text("#mute") == "Sound: on"
    page.click("#mute")
    page.reload()
    assert page.inner_text("#mute") == "Sound: off"
    assert page.evaluate("localStorage.getItem('checkpoint.muted')") == "1"


def test_kiosk_screen_without_login(tmp_path, app_factory, chromium, users):
    from checkpoint.config import Settings

    settings = Settings.model_validate({"data_dir": str(tmp_path / "kiosk"), "web": {"secret_key": "k", "kiosk": True}})
    app = app_factory(settings)
    store(app.extensions["checkpoint"].engine, make_entry(body_c=36.2))  # just decided: within show_s
    server = LiveServer(app)
    server.thread.start()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID")
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        assert "DIIZINKAN" in page.inner_text("#decision") and "Silakan masuk" in page.inner_text("#decision")
        assert page.locator("#decision a.button").count() == 0
        screenshot(page, "screen_kiosk", sizes=((1280, 800),))
    finally:
        context.close()
        server.stop()

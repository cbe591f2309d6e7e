"""The live screen's card never vouches for what it cannot: a decision for show_s, then waiting; a gate that
cannot decide (scanner, camera or database down, agent silent) closes the card; health rows read as people say
them; re-test and capacity texts follow the settings the entry was decided under."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from web_helpers import ZONE, hours_ago, make_entry, store, store_status

from checkpoint.recorder import gate_status
from web import events
from web.i18n import duration

OK = {"state": "ok", "message": "", "last_ok_age_s": 0.2, "counters": {}}


def healthy(**changes) -> dict:
    components = {"scanner": dict(OK), "camera": dict(OK), "database": dict(OK),
                  "journal": {"state": "ok", "message": "", "last_ok_age_s": 941.0, "counters": {}}}
    components.update(changes)
    return components


def card(html: str) -> str:
    return html[max(html.index('id="decision"') - 80, 0):html.index('<template id="waiting-card"')]


def live(client, gate: str = "", language: str = "en") -> str:
    return client.get(f"/screen/live?gate={gate}", headers={"Accept-Language": language}).get_data(as_text=True)


def test_a_decision_shows_for_show_s_then_waiting(client, auth, engine):
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", healthy(), 0, 0, None, time.time()))
    auth.login("guard")
    (entry,) = store(engine, make_entry(datetime.now(timezone.utc) - timedelta(seconds=3)))
    html = card(live(client))
    assert 'data-state="decision"' in html and entry.uid in html and "DIIZINKAN" in html
    remaining = int(html.split('data-remaining-ms="')[1].split('"')[0])
    assert 4000 <= remaining <= 5100  # show_s (8 s by default) less the 3 s since the decision
    store(engine, make_entry(datetime.now(timezone.utc) - timedelta(seconds=9), body_c=36.9))
    html = card(live(client))  # the newest decision is 3 s old; the one decided 9 s ago never shows
    assert entry.uid in html
    with_older = card(client.get("/screen/live").get_data(as_text=True))
    assert "36.9" not in with_older


def test_an_old_entry_is_never_shown_as_current(client, auth, engine):
    """A web-only screen with the newest entry 8 days old: waiting, and the list shows the entry's date."""
    (old,) = store(engine, make_entry(hours_ago(24 * 8), body_c=36.4))
    auth.login("guard")
    html = live(client)
    assert 'data-state="waiting"' in card(html) and "Waiting for a visitor" in card(html)
    assert old.uid not in card(html) and "DIIZINKAN" not in card(html)
    recent = html[html.index('class="recent"'):]
    assert f'<span class="date">{old.local_date}</span>' in recent


def test_an_override_shows_the_entry_again_for_show_s(client, auth, engine):
    from checkpoint.models import Override

    (entry,) = store(engine, make_entry(hours_ago(1), outcome="denied", reasons="no_mask", mask_class="no_mask"))
    store(engine, Override(entry_uid=entry.uid, gate_id="gate-1", at=datetime.now(timezone.utc), by_user="guard",
                           outcome="allowed", reason="face shield"))
    auth.login("guard")
    html = card(live(client))
    assert 'data-state="decision"' in html and "decision-allowed" in html and "face shield" in html


@pytest.mark.slow
def test_each_fault_that_stops_decisions_closes_the_card(client, auth, engine):
    auth.login("guard")
    store(engine, make_entry())  # a fresh "allowed" that must not show while the gate cannot decide
    for name in ("scanner", "camera", "database"):
        down = {"state": "down", "message": f"{name} gone", "last_ok_age_s": 130.0, "counters": {}}
        store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", healthy(**{name: down}), 0, 0,
                                         None, time.time()))
        html = card(live(client))
        assert 'data-state="closed"' in html and "decision-closed" in html, name
        assert "PINTU DITUTUP" in html and "GATE CLOSED" in html and "See the officer" in html
        assert "Hubungi petugas" in html and "DIIZINKAN" not in html
        assert "Pintu Utama" in html and f"{name} gone" in html
    # a degraded component, the journal or the central link down do not stop decisions
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", healthy(
        camera={"state": "degraded", "message": "low frame rate", "last_ok_age_s": 1.0, "counters": {}},
        journal={"state": "down", "message": "disk full", "last_ok_age_s": 5.0, "counters": {}}), 0, 0, None,
        time.time()))
    assert 'data-state="decision"' in card(live(client))


def test_a_silent_agent_closes_the_card_and_says_for_how_long(client, auth, engine):
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", healthy(), 0, 0, None,
                                     time.time() - 150))
    store(engine, make_entry())
    auth.login("guard")
    html = live(client)
    assert 'data-state="closed"' in card(html) and "agent silent for 2 min" in card(html)
    health = html[html.index('class="health"'):html.index('class="recent"')]
    assert "SILENT" in health and "for 2 min" in health
    indonesian = live(client, language="id")
    assert "agen tidak ada kabar selama 2 menit" in card(indonesian)


def test_one_closed_gate_closes_a_screen_of_all_gates_but_not_another_gates_screen(client, auth, engine):
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", healthy(), 0, 0, None, time.time()))
    store_status(engine, gate_status("gate-2", "Pintu Samping", "Asia/Jakarta", healthy(
        scanner={"state": "down", "message": "no data for 12 s", "last_ok_age_s": 12.0, "counters": {}}), 0, 0,
        None, time.time()))
    store(engine, make_entry(gate_id="gate-1"))
    auth.login("guard")
    everyone = card(live(client))
    assert 'data-state="closed"' in everyone and "Pintu Samping" in everyone and "Pintu Utama" not in everyone
    assert 'data-state="decision"' in card(live(client, "gate-1"))
    assert 'data-state="closed"' in card(live(client, "gate-2"))


def test_the_log_out_of_reach_closes_the_card(tmp_path, app_factory):
    """A kiosk screen (a signed-in one needs the log to know its user)."""
    from checkpoint.config import Settings

    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k", "kiosk": True}})
    app = app_factory(settings)
    engine, client = app.extensions["checkpoint"].engine, app.test_client()
    store(engine, make_entry())
    assert 'data-state="decision"' in card(live(client))
    engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        path = settings.data_path / f"checkpoint.db{suffix}"
        if path.exists():
            os.remove(path)
    response = client.get("/screen/live", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-state="closed"' in card(html) and "basis data tidak terjangkau" in card(html)  # gate.language
    assert "DIIZINKAN" not in card(html)
    assert "is missing" in html[html.index('class="health"'):]  # the reason, in the health panel
    assert client.get("/", headers={"Accept-Language": "en"}).status_code == 200  # the page itself too


def test_health_rows_read_as_people_read_them(client, auth, engine):
    components = healthy(scanner={"state": "down", "message": "no data", "last_ok_age_s": 125.0, "counters": {}})
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 0, None, time.time()))
    auth.login("guard")
    health = live(client)
    health = health[health.index('class="health"'):health.index('class="recent"')]
    journal = health[health.index("<strong>Journal</strong>"):]
    journal = journal[:journal.index("</li>")]
    assert "ok" in journal and "ago" not in journal and "941" not in journal  # no age growing beside "ok"
    scanner = health[health.index("<strong>Scanner</strong>"):]
    assert "down" in scanner[:200] and "last ok 2 min ago" in scanner[:300]
    indonesian = live(client, language="id")
    assert "<strong>Sensor suhu</strong>" in indonesian and "<strong>Jurnal</strong>" in indonesian
    assert "terakhir baik 2 menit lalu" in indonesian


def test_durations_in_both_languages(app):
    with app.test_request_context():
        assert [duration(s, "en") for s in (0, 59.9, 60, 3599, 3600, 172799, 8 * 86400)] == \
            ["0 s", "59 s", "1 min", "59 min", "1 h", "47 h", "8 days"]
        assert duration(150, "id") == "2 menit" and duration(30, "id") == "30 dtk"


def test_the_screen_stream_ticks_so_a_quiet_screen_knows_it_is_connected(app):
    broker = app.extensions["checkpoint"].broker
    body = events.stream(broker, None, None, heartbeat_s=0.05, tick=True)
    assert next(body).startswith("retry:")
    tick = next(body)
    assert tick.startswith("event: tick\ndata: ") and abs(json.loads(tick.split("data: ")[1])["t"] - time.time()) < 5
    body.close()
    plain = events.stream(broker, None, None, heartbeat_s=0.05)
    next(plain)
    assert next(plain) == ": heartbeat\n\n"
    plain.close()


def test_the_screen_stream_ticks_while_only_other_gates_events_arrive(app, engine):
    broker = app.extensions["checkpoint"].broker
    subscription = broker.subscribe()
    body = events.stream(broker, None, "gate-1", heartbeat_s=0.3, tick=True, subscription=subscription)
    next(body)
    started = time.monotonic()
    subscriber = subscription[0]
    for _ in range(12):  # another gate's events, every 0.05 s: filtered out, and the tick still comes
        subscriber.queue.put(events.Event("exit", {"id": 1, "gate_id": "gate-2"}, events.Cursor(), "gate-2"))
    assert next(body).startswith("event: tick") and time.monotonic() - started < 1.0
    body.close()


def test_retest_text_from_rest_s_with_the_time_to_come_back(client, auth, engine, app):
    decided = datetime(2026, 5, 10, 3, 20, 30, tzinfo=timezone.utc)  # 10:20:30 in Jakarta
    rules = json.dumps({"fever": {"rest_s": 600}, "capacity": {"scope": "gate"}})
    (entry,) = store(engine, make_entry(decided, outcome="remeasure", reasons="fever_retest", body_c=37.6,
                                        rules=rules))
    from web.i18n import entry_message
    with app.test_request_context():
        assert entry_message(entry, "fever_retest", "id") == \
            "Suhu tinggi. Istirahat 10 menit, lalu ukur ulang: kembali pukul 10:31."
        assert entry_message(entry, "fever_retest", "en") == \
            "High temperature. Rest for 10 minutes, then measure again: come back at 10:31."
        assert decided.astimezone(ZONE).strftime("%H:%M:%S") == "10:20:30"
        entry.rules = "{}"  # an entry without its settings: this app's rules.fever.rest_s (300 s)
        assert "Istirahat 5 menit" in entry_message(entry, "fever_retest", "id")
        assert "kembali pukul 10:26" in entry_message(entry, "fever_retest", "id")


def test_capacity_text_names_the_building_only_when_the_scope_is_the_building(app):
    from web.i18n import entry_message

    gate_scope = make_entry(outcome="denied", reasons="capacity_full",
                            rules=json.dumps({"capacity": {"scope": "gate", "limit": 40}}))
    building = make_entry(outcome="denied", reasons="capacity_full",
                          rules=json.dumps({"capacity": {"scope": "building", "limit": 400}}))
    with app.test_request_context():
        assert entry_message(gate_scope, "capacity_full", "en") == "Capacity reached. Please wait."
        assert "building" not in entry_message(gate_scope, "capacity_full", "en").lower()
        assert entry_message(building, "capacity_full", "en") == "The building is full. Please wait."
        assert entry_message(building, "capacity_full", "id") == "Gedung penuh. Mohon menunggu."


def test_the_card_uses_the_entrys_settings_for_the_retest_text(client, auth, engine):
    store(engine, make_entry(outcome="remeasure", reasons="fever_retest", body_c=37.7,
                             rules=json.dumps({"fever": {"rest_s": 120}})))
    auth.login("guard")
    html = card(live(client))
    assert "Istirahat 2 menit" in html and "Rest for 2 minutes" in html and "kembali pukul" in html
    assert "5 menit" not in html


def test_a_kiosk_screen_speaks_the_gates_language_whatever_the_browser(tmp_path, app_factory):
    from checkpoint.config import Settings

    for gate_language, browser, word in (("id", "en", "Kondisi perangkat"), ("en", "id", "Device health")):
        settings = Settings.model_validate({"data_dir": str(tmp_path / gate_language),
                                            "gate": {"language": gate_language},
                                            "web": {"secret_key": "k", "kiosk": True}})
        client = app_factory(settings).test_client()
        for path in ("/", "/screen/live"):
            html = client.get(path, headers={"Accept-Language": browser}).get_data(as_text=True)
            assert word in html, (gate_language, path)
        # the language switch still wins, and other pages still follow the browser
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
        client.post("/language", data={"language": browser, "csrf_token": token, "next": "/"})
        assert word not in client.get("/screen/live").get_data(as_text=True)


def test_a_signed_in_screen_follows_the_browser(client, auth):
    auth.login("guard")
    assert "Device health" in live(client, language="en") and "Kondisi perangkat" in live(client, language="id")


def test_latest_entries_by_decision_time_each_with_its_override_link(client, auth, engine):
    late = store(engine, make_entry(hours_ago(0.5), body_c=36.1))[0]  # written first, decided later
    early = store(engine, make_entry(hours_ago(2), body_c=36.2))[0]  # forwarded late: a higher id
    newest = store(engine, make_entry(hours_ago(0.1), body_c=36.3))[0]
    auth.login("guard")
    recent = live(client)
    recent = recent[recent.index('class="recent"'):]
    order = [uid for uid in (newest.uid, late.uid, early.uid)]
    assert sorted(order, key=recent.index) == order
    for entry in (newest, late, early):
        assert f'href="/override?entry={entry.uid}&amp;back_gate="' in recent


def test_a_kiosk_list_has_no_override_links(tmp_path, app_factory):
    from checkpoint.config import Settings

    settings = Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "k", "kiosk": True}})
    app = app_factory(settings)
    store(app.extensions["checkpoint"].engine, make_entry())
    html = app.test_client().get("/screen/live").get_data(as_text=True)
    assert "/override?" not in html

"""The live entry screen: latest decision, counts, health, overrides and exits."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select
from web_helpers import csrf_from, earlier_today, make_entry, store

from checkpoint.models import Entry, Exit, Override
from checkpoint.recorder import gate_status


@pytest.mark.slow
def test_latest_decision_in_both_languages_with_temperature_and_mask(client, auth, engine):
    store(engine, make_entry(earlier_today(0.2), body_c=36.6),
          make_entry(outcome="denied", reasons="fever,no_mask", body_c=38.4, mask_class="no_mask"))
    auth.login("guard")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    decision = html[html.index('class="decision'):html.index('<aside')]
    assert "decision-denied" in decision
    assert "DITOLAK" in decision and "DENIED" in decision
    assert "Suhu tubuh tinggi" in decision and "High body temperature" in decision
    assert "38.4 °C" in decision and "No mask" in decision


@pytest.mark.slow
def test_colours_for_allowed_remeasure_and_flagged(client, auth, engine):
    auth.login("guard")
    store(engine, make_entry())
    assert "decision-allowed" in client.get("/screen/live").get_data(as_text=True)
    store(engine, make_entry(outcome="remeasure", reasons="implausible_temperature", body_c=33.0))
    html = client.get("/screen/live").get_data(as_text=True)
    assert "decision-caution" in html and "UKUR ULANG" in html
    store(engine, make_entry(outcome="allowed", flagged=True, reasons="no_mask", mask_class="no_mask"))
    assert "decision-caution" in client.get("/screen/live").get_data(as_text=True)


@pytest.mark.slow
def test_todays_counts_occupancy_and_capacity(client, auth, engine):
    now = time.time()
    store(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", {}, 0, 40, None, now))
    store(engine, *[make_entry() for _ in range(3)], make_entry(outcome="denied", reasons="fever"),
          make_entry(outcome="denied", reasons="no_mask"), make_entry(outcome="denied", reasons="no_mask"))
    auth.login("guard")
    html = client.get("/screen/live", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="count-visitors">6<' in html and 'id="count-allowed">3<' in html and 'id="count-denied">3<' in html
    assert 'id="occupancy">3<' in html and "/ 40 capacity" in html
    reasons = html[html.index('class="reasons"'):]
    assert reasons.index("No mask") < reasons.index("Fever")  # most frequent first


@pytest.mark.slow
def test_a_building_wide_limit_counts_every_gate_once(client, auth, engine):
    now = time.time()
    store(engine, *[gate_status(g, g, "Asia/Jakarta", {}, 0, 100, None, now, capacity_scope="building")
                    for g in ("gate-1", "gate-2")],
          gate_status("gate-3", "Parkir", "Asia/Jakarta", {}, 0, 20, None, now))  # its own limit
    store(engine, *[make_entry(gate_id="gate-1") for _ in range(3)], *[make_entry(gate_id="gate-2") for _ in range(2)],
          make_entry(gate_id="gate-3"),
          Exit(gate_id="gate-2", at=earlier_today(0.1), local_date=make_entry().local_date))
    auth.login("guard")
    one_gate = client.get("/screen/live?gate=gate-1", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # gate-1's limit is the building's: everyone inside through any gate, against 100 (not 200)
    assert 'Inside (whole building): <strong id="occupancy">5<' in one_gate and "/ 100 capacity" in one_gate
    gate3 = client.get("/screen/live?gate=gate-3", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'Inside: <strong id="occupancy">1<' in gate3 and "/ 20 capacity" in gate3
    everyone = client.get("/screen/live", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert 'Di dalam (seluruh gedung): <strong id="occupancy">5<' in everyone and "/ 120" in everyone


@pytest.mark.slow
def test_health_panel_silent_gate_backlog_and_components(client, auth, engine):
    components = {"scanner": {"state": "degraded", "message": "checksum errors", "last_ok_age_s": 2.0,
                              "counters": {"bad_frames": 7}}}
    store(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 12, 0, None, time.time()),
          gate_status("gate-2", "Pintu Samping", "Asia/Jakarta", {}, 0, 0, None, time.time() - 60))
    auth.login("guard")
    html = client.get("/screen/live", headers={"Accept-Language": "en"}).get_data(as_text=True)
    health = html[html.index('class="health"'):html.index('class="recent"')]
    assert "checksum errors" in health and "bad_frames: 7" in health and "degraded" in health
    assert "12 entries waiting to be logged" in health
    gate2 = health[health.index("Pintu Samping"):]
    assert "SILENT" in gate2
    assert "SILENT" not in health[:health.index("Pintu Samping")]


@pytest.mark.slow
def test_override_is_kept_beside_the_original(client, auth, engine):
    (entry,) = store(engine, make_entry(outcome="denied", reasons="no_mask", mask_class="no_mask"))
    auth.login("guard")
    page = client.get(f"/override?entry={entry.uid}")
    assert page.status_code == 200
    response = client.post("/override", data={"entry": entry.uid, "outcome": "allowed", "reason": "wears a face shield",
                                              "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302
    with Session(engine) as session:
        original = session.exec(select(Entry).where(Entry.uid == entry.uid)).one()
        override = session.exec(select(Override)).one()
    assert original.outcome == "denied" and original.reasons == "no_mask"
    assert (override.entry_uid, override.by_user, override.outcome, override.reason, override.gate_id) == \
        (entry.uid, "guard", "allowed", "wears a face shield", "gate-1")
    html = client.get("/screen/live", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Overridden" in html and "wears a face shield" in html and "decision-allowed" in html
    decision = html[html.index('class="decision'):html.index('<aside')]
    assert "Please enter" in decision and "A face mask is required." not in decision  # the message follows the override
    assert "DENIED (No mask)" in decision  # and the original stays in view
    assert 'id="occupancy">1<' in html


@pytest.mark.slow
def test_override_needs_a_reason_and_a_known_outcome(client, auth, engine):
    (entry,) = store(engine, make_entry(outcome="denied", reasons="fever"))
    auth.login("guard")
    token = csrf_from(client.get(f"/override?entry={entry.uid}").get_data(as_text=True))
    assert client.post("/override", data={"entry": entry.uid, "outcome": "allowed", "reason": " ",
                                          "csrf_token": token}).status_code == 400
    assert client.post("/override", data={"entry": entry.uid, "outcome": "maybe", "reason": "x",
                                          "csrf_token": token}).status_code == 400
    assert client.post("/override", data={"entry": "nope", "outcome": "allowed", "reason": "x",
                                          "csrf_token": token}).status_code == 404
    with Session(engine) as session:
        assert session.exec(select(Override)).all() == []


def test_exit_recorded_and_occupancy_drops(client, auth, engine):
    store(engine, make_entry(), make_entry())
    auth.login("guard")
    html = client.get("/").get_data(as_text=True)
    assert 'id="occupancy">2<' in html
    client.post("/exit", data={"csrf_token": csrf_from(html), "gate": ""})
    with Session(engine) as session:
        exit_row = session.exec(select(Exit)).one()
    assert exit_row.gate_id == "gate-1" and exit_row.by_user == "guard" and exit_row.source == "guard"
    assert 'id="occupancy">1<' in client.get("/screen/live").get_data(as_text=True)


@pytest.mark.slow
def test_one_gate_only(client, auth, engine):
    store(engine, make_entry(gate_id="gate-1", body_c=36.1), make_entry(gate_id="gate-2", body_c=36.9))
    auth.login("guard")
    html = client.get("/screen/live?gate=gate-1").get_data(as_text=True)
    assert "36.1" in html and "36.9" not in html


def test_an_incorrectly_worn_mask_on_the_live_screen_in_both_languages(client, auth, engine):
    store(engine,
          make_entry(earlier_today(0.2), outcome="denied", reasons="mask_incorrect", mask_class="mask_incorrect"),
          make_entry(outcome="denied", reasons="mask_incorrect", mask_class="mask_incorrect", mask_confidence=0.77))
    auth.login("guard")
    for language, label, mask in (("en", "Mask worn incorrectly", "Worn incorrectly (nose or mouth bare)"),
                                  ("id", "Masker tidak benar", "Tidak benar (hidung/mulut terbuka)")):
        html = client.get("/screen/live", headers={"Accept-Language": language}).get_data(as_text=True)
        decision = html[html.index('class="decision'):html.index('<aside')]
        assert "decision-denied" in decision
        # The visitor's message is always shown in both languages.
        assert "Mohon pakai masker dengan benar: tutupi hidung dan mulut." in decision
        assert "Please cover your nose and mouth." in decision
        assert f"<dd>{mask}</dd>" in decision
        side, recent = html[html.index("<aside"):html.index('class="recent"')], html[html.index('class="recent"'):]
        assert f"<span>{label}</span><strong>2</strong>" in side  # today's denials by reason
        assert recent.count(f"<td>{label}</td>") == 2 and recent.count(f"<td>{mask}</td>") == 2


def test_a_face_seen_only_in_profile_asks_to_face_the_camera(client, auth, engine):
    store(engine, make_entry(outcome="remeasure", reasons="face_turned", mask_class="uncertain"))
    auth.login("guard")
    html = client.get("/screen/live", headers={"Accept-Language": "en"}).get_data(as_text=True)
    decision = html[html.index('class="decision'):html.index('<aside')]
    assert "decision-caution" in decision and "UKUR ULANG" in decision
    assert "Hadapkan wajah ke kamera." in decision and "Please face the camera." in decision
    assert "<dd>Unclear</dd>" in decision
    assert "<td>Face turned away</td>" in html[html.index('class="recent"'):]


def test_entries_logged_with_the_legacy_below_nose_code_still_display(client, auth, engine):
    store(engine, make_entry(outcome="denied", reasons="mask_below_nose", mask_class="mask_below_nose"))
    auth.login("guard")
    html = client.get("/screen/live", headers={"Accept-Language": "en"}).get_data(as_text=True)
    decision = html[html.index('class="decision'):html.index('<aside')]
    assert "Please cover your nose and mouth." in decision and "<dd>Below nose</dd>" in decision
    assert "<td>Mask below nose</td>" in html[html.index('class="recent"'):]
    side = html[html.index("<aside"):html.index('class="recent"')]
    assert "<span>Mask worn incorrectly</span><strong>1</strong>" in side  # counted with today's code
    assert "mask_below_nose" not in html  # never the raw code

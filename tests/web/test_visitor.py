"""The visitor screen without a browser: what each decision shows and says, the filtered stream, gate closed,
nothing about earlier visitors, and the shipped voice prompts."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session
from web_helpers import make_entry, store, store_status

from checkpoint import reasons as R
from checkpoint.config import Settings
from checkpoint.models import Override
from checkpoint.recorder import gate_status
from web.visitor import REASON_ICONS, closed_because, view_of
from web.voice import LANGUAGES, PROMPTS, prompt_path

JAKARTA = ZoneInfo("Asia/Jakarta")
TEMPLATE = Path(__file__).resolve().parents[2] / "web" / "templates" / "visitor.html"
OK = {"state": "ok", "message": "", "last_ok_age_s": 0.1, "counters": {}}


def healthy(engine, gate="gate-1", **components):
    parts = {"scanner": OK, "camera": OK, "database": OK, "door": OK}
    parts.update({name: {"state": state, "message": f"{name} {state}", "counters": {}} for name, state in
                  components.items()})
    store_status(engine, gate_status(gate, "Pintu Utama", "Asia/Jakarta", parts, 0, 0, None, time.time()))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.model_validate({"data_dir": str(tmp_path), "web": {"secret_key": "test-secret-key"}})


@pytest.fixture
def app(app_factory, settings):
    return app_factory(settings, EVENTS_POLL_S=0.05, SILENT_AFTER_S=3600)


# -- what each decision shows ------------------------------------------------------------------------

DECIDED = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # 10:00 in Jakarta


@pytest.mark.parametrize("outcome, reasons, state, icon, voice", [
    ("allowed", [], "allowed", "enter", R.WELCOME),
    ("allowed", [R.MASK_INCORRECT], "allowed", "enter", R.WELCOME),  # let in, flagged: reminded
    ("denied", [R.NO_MASK], "denied", "mask", R.NO_MASK),
    ("denied", [R.MASK_INCORRECT], "denied", "mask", R.MASK_INCORRECT),
    ("denied", [R.FEVER], "denied", "fever", R.FEVER),
    ("denied", [R.CAPACITY_FULL], "denied", "full", R.CAPACITY_FULL),
    ("denied", [R.SCANNER_FAULT], "denied", "closed", R.SCANNER_FAULT),
    ("denied", [R.CAMERA_FAULT], "denied", "closed", R.CAMERA_FAULT),
    ("remeasure", [R.NO_READING], "measure", "thermometer", R.NO_READING),
    ("remeasure", [R.FEVER_RETEST], "remeasure", "rest", R.FEVER_RETEST),
    ("remeasure", [R.IMPLAUSIBLE], "remeasure", "thermometer", R.IMPLAUSIBLE),
    ("remeasure", [R.NO_FACE], "remeasure", "face", R.NO_FACE),
    ("remeasure", [R.FACE_TURNED], "remeasure", "face", R.FACE_TURNED),
    ("remeasure", [R.MASK_UNCERTAIN], "remeasure", "face", R.MASK_UNCERTAIN),
    ("denied", ["mask_below_nose"], "denied", "mask", R.MASK_INCORRECT),  # a legacy code reads as today's
    ("denied", [], "denied", "stop", "closed"),  # a guard's override: see the officer
])
def test_each_decision_has_a_state_pictogram_prompt_and_words_in_both_languages(outcome, reasons, state, icon,
                                                                                voice):
    view = view_of(outcome, reasons, DECIDED, 300, JAKARTA)
    assert (view["state"], view["icon"], view["voice"]) == (state, icon, voice)
    assert view["title"]["id"] and view["title"]["en"] and view["text"]["id"] and view["text"]["en"]
    assert view["voice"] in PROMPTS
    assert f'id="p-{view["icon"]}"' in TEMPLATE.read_text(encoding="utf-8")


def test_mask_incorrect_asks_to_cover_nose_and_mouth():
    view = view_of("denied", [R.MASK_INCORRECT], DECIDED, 300, JAKARTA)
    assert view["text"] == {"id": "Mohon pakai masker dengan benar: tutupi hidung dan mulut.",
                            "en": "Please cover your nose and mouth."}
    assert view_of("allowed", [R.MASK_INCORRECT], DECIDED, 300, JAKARTA)["text"] == view["text"]


@pytest.mark.parametrize("rest_s, id_text, en_text", [
    (300, "istirahat 5 menit, lalu ukur ulang pukul 10:05", "rest for 5 minutes, then measure again at 10:05"),
    (90, "istirahat 2 menit, lalu ukur ulang pukul 10:01", "rest for 2 minutes, then measure again at 10:01"),
    (30, "istirahat 30 detik, lalu ukur ulang pukul 10:00", "rest for 30 seconds, then measure again at 10:00"),
])
def test_measure_again_after_a_high_reading_says_when_to_come_back(rest_s, id_text, en_text):
    view = view_of("remeasure", [R.FEVER_RETEST], DECIDED, rest_s, JAKARTA)
    assert id_text in view["text"]["id"] and en_text in view["text"]["en"]
    assert view["come_back_at"] == (DECIDED + timedelta(seconds=rest_s)).isoformat()


def test_every_reason_code_has_a_pictogram_and_a_prompt():
    for code in R.current_codes():
        assert code in REASON_ICONS, code
        assert code in PROMPTS, code


# -- the shipped prompts ---------------------------------------------------------------------------------

def test_every_prompt_ships_as_a_small_ogg_opus_file_in_both_languages():
    for key in PROMPTS:
        for language in LANGUAGES:
            path = prompt_path(key, language)
            assert path.exists(), f"{path} missing: run scripts/make_voice.py"
            data = path.read_bytes()
            assert data.startswith(b"OggS") and b"OpusHead" in data[:100]
            assert 1000 < len(data) < 40_000
            assert f"title={PROMPTS[key][LANGUAGES.index(language)]}".encode() in data  # made from today's text
    assert (prompt_path("welcome", "id").parent.parent / "NOTICE").exists()


# -- the page and its stream ----------------------------------------------------------------------------

def test_the_page_needs_no_login_and_shows_nothing_about_earlier_visitors(client, engine):
    healthy(engine)
    earlier = store(engine, make_entry(outcome="denied", reasons="fever", body_c=38.4),
                    make_entry(body_c=36.7, gate_id="gate-1"))
    response = client.get("/visitor")
    assert response.status_code == 200  # kiosk mode is off: the visitor's screen opens anyway
    html = response.get_data(as_text=True)
    assert 'data-state="waiting"' in html and "Selamat datang" in html and "Welcome" in html
    for row in earlier:
        assert row.uid not in html
    assert not re.search(r"3[678]\.\d", html)  # no temperature
    assert "demam" not in html.lower() and "fever" not in html.lower().replace("p-fever", "")


def read_events(response, count: int, timeout: float = 5.0) -> list[tuple[str, dict]]:
    out, deadline = [], time.monotonic() + timeout
    for chunk in response.response:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        match = re.match(r"event: (\w+)\ndata: (.*)\n\n", text)
        if match and match.group(1) != "tick":
            out.append((match.group(1), json.loads(match.group(2))))
        if len(out) >= count or time.monotonic() > deadline:
            break
    return out


def test_the_stream_shows_this_gates_new_decisions_only_without_ids_or_temperatures(client, engine):
    healthy(engine)
    healthy(engine, gate="gate-2")
    store(engine, make_entry(body_c=36.6))  # before the stream: never shown
    response = client.get("/visitor/events?gate=gate-1", buffered=False)
    try:
        [(kind, gate)] = read_events(response, 1)
        assert (kind, gate) == ("gate", {"closed": []})
        old = datetime.now(timezone.utc) - timedelta(minutes=5)
        other, late, denied = store(engine, make_entry(gate_id="gate-2"), make_entry(decided_at=old),
                                    make_entry(outcome="denied", reasons="no_mask", body_c=36.9))
        [(kind, view)] = read_events(response, 1)
        assert kind == "visitor" and view["state"] == "denied" and view["reason"] == "no_mask"
        text = json.dumps(view)
        assert denied.uid not in text and "36.9" not in text and "body" not in text
        with Session(engine) as session:  # a guard lets the visitor in after all
            session.add(Override(entry_uid=denied.uid, gate_id="gate-1", at=datetime.now(timezone.utc),
                                 by_user="guard", outcome="allowed", reason="mask handed out"))
            session.commit()
        [(kind, view)] = read_events(response, 1)
        assert (kind, view["state"], view["voice"]) == ("visitor", "allowed", R.WELCOME)
    finally:
        response.close()


def test_gate_closed_when_a_device_or_the_agent_is_down(app, engine):
    with app.app_context():
        assert closed_because("gate-1", 10.0) == ["silent"]  # never heard from
        healthy(engine)
        assert closed_because("gate-1", 10.0) == []
        healthy(engine, scanner="degraded")
        assert closed_because("gate-1", 10.0) == []  # still measuring
        for name in ("scanner", "camera", "door", "database"):
            healthy(engine, **{name: "down"})
            assert closed_because("gate-1", 10.0) == [name]
        store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", {"scanner": OK}, 0, 0, None,
                                         time.time() - 60))
        assert closed_because("gate-1", 10.0) == ["silent"]


def test_the_stream_says_when_the_gate_closes_and_opens(client, engine):
    healthy(engine)
    response = client.get("/visitor/events", buffered=False)
    try:
        assert read_events(response, 1) == [("gate", {"closed": []})]
        healthy(engine, camera="down")
        assert read_events(response, 1) == [("gate", {"closed": ["camera"]})]
        healthy(engine)
        assert read_events(response, 1) == [("gate", {"closed": []})]
    finally:
        response.close()

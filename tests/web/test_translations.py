"""Every string on the pages in the page's language: no untranslated key, no English on an Indonesian page
(beyond the live card, which always speaks both), translated error pages, the gate's name, a favicon."""

from __future__ import annotations

import re
import time

import pytest
from web_helpers import make_entry, store, store_status

from checkpoint.recorder import gate_status
from web.i18n import TEXT

KEY = re.compile(r"\b(?:app|nav|login|screen|mask|health|col|log|reports|admin|password|role|error|stop|component|"
                 r"duration|reason|message)\.[a-z_0-9]+\b")
ENGLISH = ("Forbidden", "Not Found", "Not found", "Scanner", "Camera", "Journal", "Database", "simulated camera",
           " ago", "Device health", "Latest entries", "Visitors", "Today", "Inside", "Override", "Sign in")


def visible(html: str) -> str:
    """The page's text as a reader sees it (tags, scripts and the bilingual live card left out)."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>|<template.*?</template>", " ", html, flags=re.S)
    html = re.sub(r'<section class="decision.*?</section>', " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture
def gate(engine):
    components = {name: {"state": "ok", "message": "", "last_ok_age_s": 1.0, "counters": {}}
                  for name in ("scanner", "database", "journal")}
    components["camera"] = {"state": "ok", "message": "simulated camera", "last_ok_age_s": 1.0, "counters": {}}
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta", components, 0, 0, None, time.time()))
    store(engine, make_entry(), make_entry(outcome="denied", reasons="fever", body_c=38.1))


def pages(client, entry_uid: str) -> list[str]:
    return ["/", "/screen/live", "/entries", "/reports", f"/override?entry={entry_uid}", "/nope", "/admin/users"]


@pytest.mark.slow
@pytest.mark.parametrize("language", ["id", "en"])
def test_no_page_shows_an_untranslated_key(client, auth, engine, gate, language):
    auth.login("admin")
    uid = make_entry().uid
    store(engine, make_entry(uid=uid))
    for path in pages(client, uid):
        html = client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
        text = visible(html)
        assert "Pintu Utama" in text, path  # a real page, with the gate's name
        assert not KEY.findall(text), (path, KEY.findall(text))
        if language == "id":
            english = [word for word in ENGLISH if word in text]
            assert not english, (path, english)


def test_error_pages_in_both_languages(client, auth):
    auth.login("guard")
    missing = client.get("/nope", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "404 · Tidak ditemukan" in missing and "Halaman yang dicari tidak ada" in missing
    assert "404 · Not found" in client.get("/nope", headers={"Accept-Language": "en"}).get_data(as_text=True)
    forbidden = client.get("/entries", headers={"Accept-Language": "id"})
    assert forbidden.status_code == 403
    html = forbidden.get_data(as_text=True)
    assert "403 · Terlarang" in html and "Anda tidak berhak" in html and "Forbidden" not in html
    too_large = client.post("/login", data={"username": "x", "password": "y" * (2 * 1024 * 1024)},
                            headers={"Accept-Language": "id"})
    assert too_large.status_code == 413 and "terlalu besar" in too_large.get_data(as_text=True)
    assert "1024 KB" in too_large.get_data(as_text=True) and "too large" not in too_large.get_data(as_text=True)


def test_component_names_and_known_messages_are_translated(client, auth, gate):
    auth.login("guard")
    html = client.get("/screen/live", headers={"Accept-Language": "id"}).get_data(as_text=True)
    health = html[html.index('class="health"'):html.index('class="recent"')]
    for name in ("Sensor suhu", "Kamera", "Basis data", "Jurnal"):
        assert f"<strong>{name}</strong>" in health
    assert "kamera simulasi" in health and "simulated camera" not in health


@pytest.mark.slow
def test_the_gate_is_shown_by_its_name(client, auth, engine, gate):
    auth.login("admin")
    live = client.get("/screen/live").get_data(as_text=True)
    recent = live[live.index('class="recent"'):]
    assert "<td>Pintu Utama</td>" in recent and "<td>gate-1</td>" not in recent
    log = client.get("/entries").get_data(as_text=True)
    assert "<td>Pintu Utama</td>" in log and ">Pintu Utama</option>" in log
    assert ">Pintu Utama</option>" in client.get("/reports").get_data(as_text=True)


def test_every_text_has_both_languages():
    for key, pair in TEXT.items():
        assert len(pair) == 2 and all(isinstance(text, str) and text for text in pair), key


def test_favicon(client):
    assert client.get("/favicon.ico").status_code == 301
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)

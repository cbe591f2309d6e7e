"""Reports (SVG charts and their tables), the JSON API, and user administration."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select
from web_helpers import PASSWORD, csrf_from, make_entry, store

from checkpoint.counts import daily_range
from checkpoint.models import User

START = datetime(2026, 5, 4, 0, 30, tzinfo=timezone.utc)  # 07:30 in Jakarta


@pytest.fixture
def week(engine):
    rows = []
    for day in range(7):
        for i in range(day + 1):
            rows.append(make_entry(START + timedelta(days=day, hours=i % 5)))
        rows.append(make_entry(START + timedelta(days=day, hours=2), outcome="denied",
                               reasons="no_mask" if day % 2 else "fever"))
    return store(engine, *rows)


def test_report_charts_and_tables_match_the_counts(client, auth, engine, week):
    auth.login("manager")
    html = client.get("/reports?from=2026-05-04&to=2026-05-10&day=2026-05-06",
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html.count("<svg") == 3 and "<script" not in html.split("</header>")[1]
    with Session(engine) as session:
        days = daily_range(session, "2026-05-04", "2026-05-10")
    table = html[html.index('class="daily-table"'):html.index("</table>", html.index('class="daily-table"'))]
    for counts in days:
        row = re.search(rf">{counts.day}</a></td>(.*?)</tr>", table, re.S).group(1)
        numbers = [int(n) for n in re.findall(r'class="num">(\d+)<', row)]
        assert numbers[:3] == [counts.visitors, counts.allowed, counts.denied]
    assert f'<th class="num">{sum(c.visitors for c in days)}</th>' in table
    hourly = html[html.index('class="hourly-table"'):]
    assert '<td>07:00–07:59</td><td class="num">1</td>' in hourly  # 2026-05-06: 3 allowed at 07, 08, 09 + denied 09
    assert '<td>09:00–09:59</td><td class="num">2</td>' in hourly
    reasons = html[html.index('class="reason-table"'):]
    assert "<td>Fever</td><td class=\"num\">4</td>" in reasons and "<td>No mask</td><td class=\"num\">3</td>" in reasons


def test_report_range_is_validated(client, auth):
    auth.login("manager")
    assert client.get("/reports?from=2026-05-10&to=2026-05-01").status_code == 400
    assert client.get("/reports?from=2020-01-01&to=2026-01-01").status_code == 400
    assert client.get("/reports").status_code == 200


def test_api_entries_paginated_and_filtered(client, auth, week):
    auth.login("manager")
    first = client.get("/api/entries?from=2026-05-04&to=2026-05-10&limit=10").get_json()
    assert first["count"] == 10 and first["next"]
    collected = first["entries"]
    after = first["next"]
    while after:
        page = client.get(f"/api/entries?from=2026-05-04&to=2026-05-10&limit=10&after={after}").get_json()
        collected += page["entries"]
        after = page["next"]
    assert len(collected) == len({e["uid"] for e in collected}) == len(week)
    denied = client.get("/api/entries?from=2026-05-04&to=2026-05-10&outcome=denied&reason=fever").get_json()
    assert {e["reasons"][0] for e in denied["entries"]} == {"fever"} and denied["count"] == 4
    sample = denied["entries"][0]
    assert sample["local_time"].endswith("+07:00") and sample["override"] is None
    assert client.get("/api/entries?limit=100000").status_code == 400
    assert client.get("/api/entries?outcome=nope").get_json()["error"].startswith("outcome")


@pytest.mark.slow
def test_api_counts_and_health(client, auth, week):
    auth.login("manager")
    document = client.get("/api/counts?from=2026-05-04&to=2026-05-05").get_json()
    assert [d["day"] for d in document["days"]] == ["2026-05-04", "2026-05-05"]
    assert document["days"][1]["allowed"] == 2 and document["days"][1]["denied_by_reason"] == {"no_mask": 1}
    assert client.get("/api/health").get_json()["database"]["state"] == "ok"


@pytest.mark.slow
def test_admin_adds_disables_and_resets_users(client, auth):
    auth.login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    token = csrf_from(page)
    assert client.post("/admin/users", data={"username": "dewi", "password": "long-enough-1", "role": "manager",
                                             "language": "id", "csrf_token": token}).status_code == 302
    assert client.post("/admin/users", data={"username": "dewi", "password": "long-enough-1", "role": "manager",
                                             "csrf_token": token}).status_code == 400
    assert client.post("/admin/users", data={"username": "x", "password": "short", "role": "manager",
                                             "csrf_token": token}).status_code == 400
    app_engine = client.application.extensions["checkpoint"].engine
    with Session(app_engine) as session:
        dewi = session.exec(select(User).where(User.username == "dewi")).one()
        admin = session.exec(select(User).where(User.username == "admin")).one()
    assert client.post(f"/admin/users/{admin.id}", data={"action": "disable", "csrf_token": token}).status_code == 400

    other = client.application.test_client()
    token_other = csrf_from(other.get("/login").get_data(as_text=True))
    other.post("/login", data={"username": "dewi", "password": "long-enough-1", "csrf_token": token_other})
    assert other.get("/entries").status_code == 200
    assert client.post(f"/admin/users/{dewi.id}", data={"action": "disable", "csrf_token": token}).status_code == 302
    assert other.get("/entries").status_code == 302  # a disabled account loses access at once
    client.post(f"/admin/users/{dewi.id}", data={"action": "enable", "csrf_token": token})
    client.post(f"/admin/users/{dewi.id}",
                data={"action": "password", "password": "another-pass-2", "csrf_token": token})
    token_other = csrf_from(other.get("/login").get_data(as_text=True))
    assert other.post("/login", data={"username": "dewi", "password": "another-pass-2",
                                      "csrf_token": token_other}).status_code == 302


@pytest.mark.slow
def test_settings_page_masks_the_secret(client, auth):
    auth.login("admin")
    html = client.get("/admin/settings").get_data(as_text=True)
    assert "test-secret-key" not in html and "********" in html and PASSWORD not in html


@pytest.mark.slow
def test_incorrect_masks_in_the_report_and_the_api(client, auth, engine, week):
    day = START + timedelta(days=1, hours=3)
    new = store(engine, make_entry(day, outcome="denied", reasons="mask_incorrect", mask_class="mask_incorrect",
                                   mask_confidence=0.8),
                make_entry(day, outcome="denied", reasons="mask_incorrect", mask_class="mask_incorrect"),
                make_entry(day, outcome="denied", reasons="mask_below_nose", mask_class="mask_below_nose"))
    auth.login("manager")
    for language, label in (("en", "Mask worn incorrectly"), ("id", "Masker tidak benar")):
        html = client.get("/reports?from=2026-05-04&to=2026-05-10",
                          headers={"Accept-Language": language}).get_data(as_text=True)
        reasons = html[html.index('class="reason-table"'):]
        assert f'<td>{label}</td><td class="num">3</td>' in reasons  # the legacy row counts with its family
        charts = re.findall(r"<svg.*?</svg>", html, re.S)
        assert label in charts[2] and label not in charts[0] + charts[1]  # the chart of denials by reason
    counts = client.get("/api/counts?from=2026-05-05&to=2026-05-05").get_json()["days"][0]
    assert counts["denied_by_reason"] == {"no_mask": 1, "mask_incorrect": 3}
    entries = client.get("/api/entries?from=2026-05-05&to=2026-05-05&reason=mask_incorrect").get_json()["entries"]
    assert {e["uid"] for e in entries} == {e.uid for e in new}
    first = next(e for e in entries if e["uid"] == new[0].uid)
    assert (first["mask_class"], first["mask_confidence"], first["reasons"]) == (
        "mask_incorrect", 0.8, ["mask_incorrect"])

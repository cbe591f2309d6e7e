"""The log's and the reports' date boxes: a refused range keeps what was typed beside the message, and the
usual ranges (today, yesterday, the last 7 days) are one click away."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from web_helpers import make_entry, store


def test_a_reversed_range_keeps_the_boxes_as_typed(client, auth):
    auth.login("manager")
    for path in ("/reports", "/entries"):
        response = client.get(f"{path}?from=2026-05-10&to=2026-05-04", headers={"Accept-Language": "en"})
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert 'name="from" value="2026-05-10"' in html and 'name="to" value="2026-05-04"' in html, path
        assert "to: before from" in html


@pytest.mark.slow
def test_today_yesterday_and_a_week_are_one_click_away(client, auth, engine):
    (entry,) = store(engine, make_entry())
    auth.login("manager")
    today = date.fromisoformat(entry.local_date)
    yesterday = (today - timedelta(days=1)).isoformat()
    for path in ("/reports", "/entries"):
        html = client.get(path, headers={"Accept-Language": "id"}).get_data(as_text=True)
        assert f"from={yesterday}&amp;to={yesterday}" in html and ">Kemarin</a>" in html, path
        assert f"from={(today - timedelta(days=6)).isoformat()}&amp;to={today.isoformat()}" in html


def test_date_boxes_write_dates_as_the_page_language_does(client, auth):
    auth.login("manager")
    for path in ("/reports", "/entries"):
        indonesian = client.get(f"{path}?from=2026-05-04&to=2026-05-10", headers={"Accept-Language": "id"})
        html = indonesian.get_data(as_text=True)
        assert 'name="from" value="04/05/2026"' in html and 'name="to" value="10/05/2026"' in html, path
        assert 'placeholder="hh/bb/tttt"' in html and 'type="date"' not in html  # not the browser's mm/dd/yyyy
        # what an Indonesian box sends back is the same range
        again = client.get(f"{path}?from=04/05/2026&to=10/05/2026", headers={"Accept-Language": "id"})
        assert again.status_code == 200 and 'name="from" value="04/05/2026"' in again.get_data(as_text=True)
        english = client.get(f"{path}?from=04/05/2026&to=10/05/2026", headers={"Accept-Language": "en"})
        assert 'name="from" value="2026-05-04"' in english.get_data(as_text=True), path
    bad = client.get("/entries?from=31/02/2026", headers={"Accept-Language": "en"})
    assert bad.status_code == 400 and "expected a date YYYY-MM-DD or DD/MM/YYYY" in bad.get_data(as_text=True)

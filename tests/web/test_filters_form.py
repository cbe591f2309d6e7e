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

"""Headless Chromium: an override made from the visitor log shows in today's counts, the log's Decision filter,
the CSV and the reports; the report's charts show the figures of their tables."""

from __future__ import annotations

import csv
import io
import time

import pytest
from web_helpers import PASSWORD, earlier_today, make_entry, screenshot, store, store_status

from checkpoint.recorder import gate_status

pytestmark = pytest.mark.browser

OK = {"state": "ok", "message": "", "last_ok_age_s": 0.2, "counters": {}}


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_override_from_the_log_shows_in_counts_filter_csv_and_reports(live_server, browser_page, engine, users,
                                                                          tmp_path):
    store_status(engine, gate_status("gate-1", "Pintu Utama", "Asia/Jakarta",
                                     {"scanner": OK, "camera": OK, "database": OK}, 0, 0, None, time.time()))
    rows = store(engine, *[make_entry(earlier_today(2 - i * 0.1), body_c=36.3 + i / 10) for i in range(5)],
                 make_entry(earlier_today(1.0), outcome="denied", reasons="fever", body_c=38.2),
                 make_entry(earlier_today(0.9), outcome="remeasure", reasons="no_face"))
    target = rows[2]
    page = browser_page
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/?gate=gate-1")
    assert (page.inner_text("#count-visitors"), page.inner_text("#count-allowed"),
            page.inner_text("#count-denied")) == ("6", "5", "1")

    page.goto(f"{live_server.url}/entries")
    page.click(f'tr[data-uid="{target.uid}"] a.override-link')
    page.select_option("select[name=outcome]", "denied")
    page.fill("textarea[name=reason]", "Coughing; sent to the clinic")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "/entries" in page.url  # back to the log it came from

    page.select_option("select[name=outcome]", "denied")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    shown = set(page.eval_on_selector_all("tr[data-uid]", "rows => rows.map(r => r.dataset.uid)"))
    assert shown == {target.uid, rows[5].uid}
    row = page.inner_text(f'tr[data-uid="{target.uid}"]')
    assert "DENIED" in row and "ALLOWED" in row and "Coughing" in row  # the final, the original beside it
    with page.expect_download() as download_info:
        page.click("#export")
    path = tmp_path / "denied.csv"
    download_info.value.save_as(path)
    exported = {r["uid"]: r for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}
    assert set(exported) == shown
    assert (exported[target.uid]["outcome"], exported[target.uid]["final_outcome"]) == ("allowed", "denied")
    assert exported[rows[5].uid]["reason_labels"] == "Fever"
    screenshot(page, "log_final_outcome", sizes=((1280, 800),))

    page.goto(f"{live_server.url}/?gate=gate-1")
    assert (page.inner_text("#count-visitors"), page.inner_text("#count-allowed"),
            page.inner_text("#count-denied"), page.inner_text("#count-remeasure")) == ("6", "4", "2", "1")

    page.goto(f"{live_server.url}/reports")
    first_row = page.locator("table.daily-table tbody tr").last  # today, the last day of the range
    cells = first_row.locator("td.num").all_inner_texts()
    assert cells[:4] == ["6", "4", "2", "1"]
    bars = page.eval_on_selector_all("#daily svg text.total", "ts => ts.map(t => [t.dataset.label, +t.textContent])")
    table = page.eval_on_selector_all(
        "table.daily-table tbody tr",
        "rs => rs.map(r => [r.cells[0].innerText.slice(5), +r.cells[1].innerText]).filter(([d, n]) => n > 0)")
    assert bars == table  # the chart's totals are the table's visitors
    reasons = page.eval_on_selector_all("#reasons svg text.total", "ts => ts.map(t => +t.textContent)")
    assert sum(reasons) == int(page.locator("table.daily-table tfoot th.num").nth(2).inner_text()) == 2
    screenshot(page, "report_final_outcome")

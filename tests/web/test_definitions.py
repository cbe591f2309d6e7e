"""One definition of each number (docs/api.md, "Definitions"): a visitor is a final decision, allowed or
denied; an entry's final outcome is its guard's latest override, else its own. The screen, the log's filter,
the CSV, the API and the reports all use them, and every chart shows its table's figures."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from web_helpers import earlier_today, make_entry, store

from checkpoint.models import Override

START = datetime(2026, 5, 4, 0, 30, tzinfo=timezone.utc)  # 07:30 in Jakarta


def csv_of(client, url: str) -> list[dict]:
    response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 200 and response.mimetype == "text/csv", response.get_data(as_text=True)[:200]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def override(engine, entry, outcome: str, at: datetime, reason: str = "checked at the desk") -> None:
    store(engine, Override(entry_uid=entry.uid, gate_id=entry.gate_id, at=at, by_user="guard", outcome=outcome,
                           reason=reason))


@pytest.fixture
def today_rows(engine):
    """Today: three allowed (one of them turned into a denial by a guard), a fever denial a guard let in,
    a re-measure request followed by its re-measure, and a no-mask denial."""
    rows = store(engine,
                 make_entry(earlier_today(3.0)), make_entry(earlier_today(2.9)),
                 make_entry(earlier_today(2.8), body_c=36.8),
                 make_entry(earlier_today(2.0), outcome="denied", reasons="fever", body_c=38.3),
                 make_entry(earlier_today(1.5), outcome="remeasure", reasons="implausible_temperature", body_c=33.0),
                 make_entry(earlier_today(1.49), body_c=36.6),  # the same visitor's re-measure
                 make_entry(earlier_today(1.0), outcome="denied", reasons="no_mask", mask_class="no_mask"))
    override(engine, rows[2], "denied", earlier_today(0.5), "coughing, sent to the clinic")
    override(engine, rows[3], "allowed", earlier_today(0.4), "re-checked: 37.0")
    return rows


@pytest.mark.slow
def test_an_override_counts_everywhere_by_its_final_outcome(client, auth, engine, today_rows):
    turned, let_in = today_rows[2], today_rows[3]
    auth.login("admin")  # may see the screen, the log, the CSV, the API and the reports
    live = client.get("/screen/live?gate=gate-1", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # 6 visitors: 4 allowed (3 + the fever a guard let in - the one turned back), 2 denied; 1 re-measure request
    assert 'id="count-visitors">6<' in live and 'id="count-allowed">4<' in live and 'id="count-denied">2<' in live
    assert 'id="count-remeasure">1<' in live and 'id="occupancy">4<' in live
    side = live[live.index("<aside"):live.index('class="recent"')]
    assert "<span>Denied by a guard</span><strong>1</strong>" in side and "Fever" not in side

    day = today_rows[0].local_date
    denied_page = client.get(f"/entries?from={day}&outcome=denied", headers={"Accept-Language": "en"})
    shown = re.findall(r'<tr class="row-\w+" data-uid="(\w+)"', denied_page.get_data(as_text=True))
    assert set(shown) == {turned.uid, today_rows[6].uid}  # the one a guard turned back is a denial
    row = denied_page.get_data(as_text=True).split(f'data-uid="{turned.uid}"')[1].split("</tr>")[0]
    assert "DENIED" in row and "gate&#39;s decision" in row and "ALLOWED" in row  # the original beside it
    original = client.get(f"/entries?from={day}&original=denied").get_data(as_text=True)
    assert set(re.findall(r'data-uid="(\w+)"', original)) == {let_in.uid, today_rows[6].uid}

    rows = {r["uid"]: r for r in csv_of(client, f"/entries.csv?from={day}")}
    assert (rows[turned.uid]["outcome"], rows[turned.uid]["final_outcome"]) == ("allowed", "denied")
    assert (rows[let_in.uid]["outcome"], rows[let_in.uid]["final_outcome"]) == ("denied", "allowed")
    assert rows[let_in.uid]["reason_labels"] == "Fever" and rows[let_in.uid]["primary_reason_label"] == "Fever"
    assert rows[today_rows[0].uid]["final_outcome"] == "allowed" and rows[today_rows[0].uid]["reason_labels"] == ""
    assert rows[turned.uid]["gate_name"] == "Pintu Utama"
    assert {r["uid"] for r in csv_of(client, f"/entries.csv?from={day}&outcome=denied")} == set(shown)
    indonesian = client.get(f"/entries.csv?from={day}", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "Demam" in indonesian

    api = client.get(f"/api/entries?from={day}&outcome=denied").get_json()
    assert {e["uid"] for e in api["entries"]} == set(shown)
    by_uid = {e["uid"]: e for e in client.get(f"/api/entries?from={day}").get_json()["entries"]}
    assert (by_uid[turned.uid]["outcome"], by_uid[turned.uid]["final_outcome"]) == ("allowed", "denied")
    counts = client.get(f"/api/counts?from={day}&to={day}").get_json()["days"][0]
    assert (counts["visitors"], counts["allowed"], counts["denied"], counts["remeasure"], counts["overridden"]) == \
        (6, 4, 2, 1, 2)
    assert counts["denied_by_reason"] == {"override": 1, "no_mask": 1} and sum(counts["hourly"]) == 6

    report = client.get(f"/reports?from={day}&to={day}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    table = report[report.index('class="daily-table"'):]
    numbers = [int(n) for n in re.findall(r'class="num">(\d+)<', table.split("</tr>")[1])]
    assert numbers[:4] == [6, 4, 2, 1]
    assert '<td>Denied by a guard</td><td class="num">1</td>' in report


def test_charts_show_the_tables_figures(client, auth, engine):
    rows = []
    for day in range(7):
        for i in range(day + 2):
            rows.append(make_entry(START + timedelta(days=day, hours=i % 6), gate_id=("gate-1", "gate-2")[i % 2]))
        rows.append(make_entry(START + timedelta(days=day, hours=2), outcome="denied",
                               reasons="no_mask" if day % 2 else "fever"))
        rows += [make_entry(START + timedelta(days=day, hours=3), outcome="remeasure", reasons="no_face")
                 for _ in range(day % 3 + 1)]  # re-measure requests: never in the visitors' bars
    rows = store(engine, *rows)
    override(engine, rows[0], "denied", START + timedelta(hours=1))
    auth.login("manager")
    html = client.get("/reports?from=2026-05-04&to=2026-05-10&day=2026-05-06",
                      headers={"Accept-Language": "en"}).get_data(as_text=True)
    daily_svg, hourly_svg, reason_svg = re.findall(r"<svg.*?</svg>", html, re.S)
    bars = {label: int(n) for label, n in re.findall(r'class="total" data-label="([^"]+)"[^>]*>(\d+)<', daily_svg)}
    table = html[html.index('class="daily-table"'):html.index("</table>", html.index('class="daily-table"'))]
    visitors = {}
    for day, cells in re.findall(r">(2026-\d\d-\d\d)</a></td>(.*?)</tr>", table, re.S):
        numbers = [int(n) for n in re.findall(r'class="num">(\d+)<', cells)]
        visitors[day[5:]] = numbers[0]
        assert numbers[0] == numbers[1] + numbers[2]  # visitors = allowed + denied
    assert bars == visitors and len(bars) == 7
    footer = [int(n) for n in re.findall(r'<th class="num">(\d+)</th>', table)]
    assert footer[0] == sum(bars.values())

    hourly = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', html[html.index('class="hourly-table"'):]
                                         .split("</table>")[0])]
    in_chart = [int(n) for n in re.findall(r'class="total" data-label="\d\d"[^>]*>(\d+)<', hourly_svg)]
    assert sum(hourly) == sum(in_chart) == visitors["05-06"]

    reasons = html[html.index('class="reason-table"'):].split("</table>")[0]
    reason_table = {label: int(n) for label, n in re.findall(r'<td>([^<]+)</td><td class="num">(\d+)</td>', reasons)}
    reason_bars = {label: int(n) for label, n in re.findall(r'class="total" data-label="([^"]+)"[^>]*>(\d+)<',
                                                            reason_svg)}
    assert reason_bars == reason_table and sum(reason_table.values()) == footer[2]  # every denial, by reason

    gates = html[html.index('class="gate-table"'):].split("</table>")[0]
    per_gate = [[int(n) for n in re.findall(r'class="num">(\d+)<', row)] for row in gates.split("<tr data-gate")[1:]]
    assert len(per_gate) == 2 and [sum(col) for col in zip(*per_gate)][:7] == footer  # the gates add up

    days_csv = csv_of(client, "/reports.csv?from=2026-05-04&to=2026-05-10")
    assert [r["day"] for r in days_csv] == [f"2026-05-{d:02d}" for d in range(4, 11)] + ["total"]
    assert {r["day"][5:]: int(r["visitors"]) for r in days_csv[:-1]} == visitors
    assert int(days_csv[-1]["visitors"]) == footer[0] and int(days_csv[-1]["remeasure"]) == footer[3]
    gates_csv = csv_of(client, "/reports.csv?from=2026-05-04&to=2026-05-10&by=gate")
    assert [r["gate_id"] for r in gates_csv] == ["gate-1", "gate-2", ""]
    assert sum(int(r["visitors"]) for r in gates_csv[:-1]) == int(gates_csv[-1]["visitors"]) == footer[0]
    assert client.get("/reports.csv?from=2026-05-10&to=2026-05-04").status_code == 400

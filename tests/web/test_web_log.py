"""The visitor log: filters, sort, keyset pages, and the CSV export of exactly the filtered rows."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from web_helpers import ZONE, make_entry, store

from checkpoint.models import Override

DAY1 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 08:00 in Jakarta


@pytest.fixture
def sample(engine):
    """Three local days, two gates, every outcome and a spread of temperatures."""
    rows = []
    for day in range(3):
        base = DAY1 + timedelta(days=day)
        rows += [
            make_entry(base + timedelta(minutes=1), body_c=36.4),
            make_entry(base + timedelta(minutes=2), outcome="denied", reasons="fever", body_c=38.1),
            make_entry(base + timedelta(minutes=3), outcome="denied", reasons="fever_retest", body_c=37.6,
                       gate_id="gate-2"),
            make_entry(base + timedelta(minutes=4), outcome="denied", reasons="no_mask,fever", body_c=37.9,
                       mask_class="no_mask"),
            make_entry(base + timedelta(minutes=5), outcome="remeasure", reasons="implausible_temperature",
                       body_c=None),
            make_entry(base + timedelta(minutes=6), body_c=36.9, gate_id="gate-2"),
        ]
    # 16:30 UTC is 23:30 local: the next local day's boundary is the gate's, not UTC's
    rows.append(make_entry(datetime(2026, 3, 1, 17, 30, tzinfo=timezone.utc), body_c=36.0))
    return store(engine, *rows)


def uids_on_page(html: str) -> list[str]:
    return re.findall(r'<tr class="row-\w+" data-uid="(\w+)"', html)


def expected(rows, predicate) -> set[str]:
    return {e.uid for e in rows if predicate(e)}


def csv_rows(client, query: str) -> list[dict]:
    response = client.get(f"/entries.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("query, predicate", [
    ("from=2026-03-02&to=2026-03-02", lambda e: e.local_date == "2026-03-02"),
    ("from=2026-03-02&to=2026-03-04", lambda e: "2026-03-02" <= e.local_date <= "2026-03-04"),
    ("from=2026-03-01&to=2026-03-04&gate=gate-2", lambda e: e.gate_id == "gate-2"),
    ("from=2026-03-01&to=2026-03-04&outcome=denied", lambda e: e.outcome == "denied"),
    ("from=2026-03-01&to=2026-03-04&reason=fever", lambda e: "fever" in e.reasons.split(",")),
    ("from=2026-03-01&to=2026-03-04&primary=fever", lambda e: e.primary_reason == "fever"),
    ("from=2026-03-01&to=2026-03-04&tmin=37.5&tmax=38.0",
     lambda e: e.body_c is not None and 37.5 <= e.body_c <= 38.0),
    ("from=2026-03-03&to=2026-03-03&outcome=denied&gate=gate-1&reason=fever",
     lambda e: e.local_date == "2026-03-03" and e.outcome == "denied" and e.gate_id == "gate-1"),
])
@pytest.mark.slow
def test_filters_and_csv_return_exactly_the_matching_rows(client, auth, sample, query, predicate):
    auth.login("manager")
    want = expected(sample, predicate)
    assert want  # every case matches something
    html = client.get(f"/entries?{query}").get_data(as_text=True)
    assert set(uids_on_page(html)) == want
    assert f'id="total">{len(want)}<' in html
    rows = csv_rows(client, query)
    assert [r["uid"] for r in rows] == [r["uid"] for r in rows if r["uid"] in want] and {r["uid"] for r in rows} == want


def test_reason_filter_does_not_match_a_longer_code(client, auth, sample):
    auth.login("manager")
    rows = csv_rows(client, "from=2026-03-01&to=2026-03-04&reason=fever")
    assert all("fever_retest" != r["reasons"] for r in rows)
    retest = csv_rows(client, "from=2026-03-01&to=2026-03-04&reason=fever_retest")
    assert {r["reasons"] for r in retest} == {"fever_retest"}


def test_local_day_boundary_uses_the_gates_time_zone(client, auth, sample):
    auth.login("manager")
    rows = csv_rows(client, "from=2026-03-02&to=2026-03-02")
    late = [r for r in rows if r["local_time"].startswith("2026-03-02T00:30")]
    assert len(late) == 1 and late[0]["local_time"].endswith("+07:00")


def test_csv_header_local_times_and_overrides(client, auth, engine, sample):
    denied = sample[1]
    store(engine, Override(entry_uid=denied.uid, gate_id="gate-1", at=DAY1 + timedelta(minutes=9), by_user="guard",
                           outcome="allowed", reason="=HYPERLINK(\"x\")"))
    auth.login("manager")
    response = client.get("/entries.csv?from=2026-03-02&to=2026-03-02&sort=oldest")
    text = response.get_data(as_text=True)
    header = text.splitlines()[0].split(",")
    assert header[:6] == ["id", "uid", "gate_id", "local_time", "local_date", "outcome"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["local_time"] == "2026-03-02T00:30:00+07:00"
    assert rows[1]["local_time"] == "2026-03-02T08:01:00+07:00"
    overridden = next(r for r in rows if r["uid"] == denied.uid)
    assert overridden["outcome"] == "denied" and overridden["override_outcome"] == "allowed"
    assert overridden["override_reason"].startswith("'=")  # no formula injection into spreadsheets
    html = client.get("/entries?from=2026-03-02&to=2026-03-02").get_data(as_text=True)
    assert "HYPERLINK" in html and "guard" in html


@pytest.mark.slow
def test_sorting_and_keyset_pages_cover_every_row_once(app, client, auth, engine):
    base = datetime(2026, 4, 1, 2, 0, tzinfo=timezone.utc)
    rows = store(engine, *[make_entry(base + timedelta(seconds=i // 2),
                                      body_c=(None if i % 7 == 0 else 35 + (i % 30) / 10))
                           for i in range(123)])
    app.config["PAGE_SIZE"] = 20
    auth.login("manager")
    for sort in ("newest", "oldest", "hottest", "coolest"):
        seen, url = [], f"/entries?from=2026-04-01&sort={sort}"
        while url:
            html = client.get(url).get_data(as_text=True)
            seen += uids_on_page(html)
            match = re.search(r'id="next" href="([^"]+)"', html)
            url = match.group(1).replace("&amp;", "&") if match else None
        assert len(seen) == len(set(seen)) == 123, sort
        by_uid = {e.uid: e for e in rows}
        if sort in ("hottest", "coolest"):
            temps = [by_uid[u].body_c for u in seen if by_uid[u].body_c is not None]
            assert temps == sorted(temps, reverse=sort == "hottest")
            nulls = [i for i, u in enumerate(seen) if by_uid[u].body_c is None]
            assert nulls == list(range(123 - len(nulls), 123))  # rows without a reading come last
        else:
            times = [(by_uid[u].decided_at, by_uid[u].id) for u in seen]
            assert times == sorted(times, reverse=sort == "newest")
    assert len(csv_rows(client, "from=2026-04-01&sort=hottest")) == 123


@pytest.mark.parametrize("query", ["from=yesterday", "from=2026-03-04&to=2026-03-01", "outcome=maybe", "tmin=hot",
                                   "reason=a%25b", "sort=random", "after=zzz"])
def test_invalid_filters_are_refused(client, auth, query):
    auth.login("manager")
    assert client.get(f"/entries?{query}").status_code == 400
    if not query.startswith("after"):
        assert client.get(f"/entries.csv?{query}").status_code == 400


def test_default_is_today(client, auth, engine):
    store(engine, make_entry(), make_entry(datetime.now(timezone.utc) - timedelta(days=2)))
    auth.login("manager")
    html = client.get("/entries").get_data(as_text=True)
    assert len(uids_on_page(html)) == 1
    assert datetime.now(ZONE).date().isoformat() in html


def test_count_is_capped_on_the_page(app, client, auth, engine):
    store(engine, *[make_entry() for _ in range(12)])
    app.config["LOG_COUNT_CAP"] = 10
    auth.login("manager")
    assert 'id="total">10+<' in client.get("/entries").get_data(as_text=True)
    app.config["LOG_COUNT_CAP"] = 12
    assert 'id="total">12<' in client.get("/entries").get_data(as_text=True)


def test_incorrect_masks_in_the_log_its_filter_and_the_csv(client, auth, engine):
    rows = store(engine,
                 make_entry(DAY1, outcome="denied", reasons="mask_incorrect", mask_class="mask_incorrect",
                            mask_confidence=0.81),
                 make_entry(DAY1 + timedelta(minutes=1), outcome="denied", reasons="mask_below_nose",
                            mask_class="mask_below_nose"),  # an entry logged before mask_incorrect existed
                 make_entry(DAY1 + timedelta(minutes=2), outcome="denied", reasons="no_mask", mask_class="no_mask"),
                 make_entry(DAY1 + timedelta(minutes=3), outcome="allowed", flagged=True, reasons="mask_incorrect",
                            mask_class="mask_incorrect"),
                 make_entry(DAY1 + timedelta(minutes=4), outcome="remeasure", reasons="face_turned",
                            mask_class="uncertain"))
    incorrect, legacy, _, flagged, turned = rows
    auth.login("manager")
    day = "from=2026-03-02&to=2026-03-02"
    html = client.get(f"/entries?{day}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    menu = html[html.index('name="reason"'):html.index("</select>", html.index('name="reason"'))]
    assert '<option value="mask_incorrect" >Mask worn incorrectly</option>' in menu
    assert '<option value="face_turned" >Face turned away</option>' in menu
    assert "mask_below_nose" not in menu  # new decisions never produce it
    assert html.count("<td>Worn incorrectly (nose or mouth bare)</td>") == 2 and "<td>Below nose</td>" in html
    assert "<td>Mask worn incorrectly</td>" in html and "<td>Mask below nose</td>" in html
    html_id = client.get(f"/entries?{day}", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert html_id.count("<td>Masker tidak benar</td>") == 2 and "<td>Wajah menyamping</td>" in html_id
    assert html_id.count("<td>Tidak benar (hidung/mulut terbuka)</td>") == 2

    want = {incorrect.uid, legacy.uid, flagged.uid}  # the filter takes the legacy code in
    assert set(uids_on_page(client.get(f"/entries?{day}&reason=mask_incorrect").get_data(as_text=True))) == want
    assert {r["uid"] for r in csv_rows(client, f"{day}&reason=mask_incorrect")} == want
    assert {r["uid"] for r in csv_rows(client, f"{day}&primary=mask_incorrect&outcome=denied")} \
        == {incorrect.uid, legacy.uid}
    assert {r["uid"] for r in csv_rows(client, f"{day}&reason=face_turned")} == {turned.uid}

    by_uid = {r["uid"]: r for r in csv_rows(client, day)}
    assert (by_uid[incorrect.uid]["mask_class"], by_uid[incorrect.uid]["mask_confidence"]) == ("mask_incorrect", "0.81")
    assert by_uid[incorrect.uid]["reasons"] == "mask_incorrect" and by_uid[flagged.uid]["flagged"] == "1"
    assert by_uid[turned.uid]["mask_class"] == "uncertain" and by_uid[legacy.uid]["mask_class"] == "mask_below_nose"

"""Reports over long ranges (issue 16): weekly and monthly buckets beyond two months, the counts kept by row id
(the same figures as checkpoint.counts.daily_range, as rows arrive, are overridden and are purged), and the
visitor log paged across a bucket's boundary."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session
from web_helpers import ZONE, make_entry, store

from checkpoint.counts import CountsCache, daily_range, days_of, gates_of, total
from checkpoint.db import open_database
from checkpoint.models import Exit, Override
from checkpoint.retention import purge_entries
from web.reports import bucket_kind, buckets


def local(text: str) -> datetime:
    """A Jakarta wall-clock time, in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(timezone.utc)


def csv_of(client, path: str) -> list[dict]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("first, last, kind", [
    ("2026-01-01", "2026-01-01", "day"), ("2026-01-01", "2026-03-03", "day"),  # 62 days: two months
    ("2026-01-01", "2026-03-04", "week"), ("2026-01-01", "2026-07-05", "week"),  # 63 and 186 days
    ("2026-01-01", "2026-07-06", "month"), ("2025-11-01", "2026-10-31", "month"),  # 187 days, a year
])
def test_the_bucket_follows_the_range(first, last, kind):
    assert bucket_kind(first, last) == kind


@pytest.fixture
def boundaries(engine):
    """Entries on both sides of week and month boundaries, local time (Jakarta): Sunday 2026-02-01 is the last
    day of a week and the first of a month; 2026-02-28 (Saturday) ends February."""
    times = ["2026-01-26 08:00", "2026-01-31 23:59:59", "2026-02-01 00:00", "2026-02-01 23:59:59",
             "2026-02-02 00:00", "2026-02-02 00:00:01", "2026-02-28 23:59", "2026-03-01 00:00", "2026-04-15 10:00"]
    rows = [make_entry(local(t)) for t in times]
    rows.append(make_entry(local("2026-02-01 23:30"), outcome="denied", reasons="fever", body_c=38.2))
    rows.append(make_entry(local("2026-02-02 00:30"), outcome="remeasure", reasons="no_face", body_c=None))
    return store(engine, *rows)


def test_weeks_and_months_cut_at_their_boundaries(client, auth, engine, boundaries):
    auth.login("manager")
    html = client.get("/reports?from=2026-01-27&to=2026-04-30", headers={"Accept-Language": "en"}) \
        .get_data(as_text=True)
    assert "Visitors per week (Monday–Sunday)" in html
    table = html[html.index('class="daily-table"'):html.index("</table>", html.index('class="daily-table"'))]
    weeks = re.findall(r'<tr data-first="([\d-]+)" data-last="([\d-]+)">(.*?)</tr>', table, re.S)
    spans = [(a, b) for a, b, _ in weeks]
    assert spans[0] == ("2026-01-27", "2026-02-01")  # the first week cut at the range's first day (a Tuesday)
    assert spans[1] == ("2026-02-02", "2026-02-08") and spans[-1] == ("2026-04-27", "2026-04-30")
    assert all(date.fromisoformat(a).weekday() == 0 for a, _ in spans[1:])
    visitors = {a: [int(n) for n in re.findall(r'class="num">(\d+)<', cells)] for a, _, cells in weeks}
    # week 1: 01-31 23:59:59, 02-01 00:00, 02-01 23:59:59 and the denial at 02-01 23:30; week 2 starts at midnight
    assert visitors["2026-01-27"][:4] == [4, 3, 1, 0]
    assert visitors["2026-02-02"][:4] == [2, 2, 0, 1]  # 00:00, 00:00:01 and the re-measure request at 00:30
    assert sum(v[0] for v in visitors.values()) == 9  # 2026-01-26 is before the range
    footer = [int(n) for n in re.findall(r'<th class="num">(\d+)</th>', table)]
    assert footer[0] == 9
    bars = [int(n) for n in re.findall(r'class="total" data-label="[^"]+"[^>]*>(\d+)<',
                                       re.findall(r"<svg.*?</svg>", html, re.S)[0])]
    assert sum(bars) == 9 and len(re.findall(r'<rect x', html.split("<svg")[1])) >= 1

    by_month = csv_of(client, "/reports.csv?from=2026-01-27&to=2026-04-30&bucket=month")
    assert [(r["day"], r["visitors"]) for r in by_month] == [("2026-01-27", "1"), ("2026-02-01", "6"),
                                                             ("2026-03-01", "1"), ("2026-04-01", "1"),
                                                             ("total", "9")]
    by_day = csv_of(client, "/reports.csv?from=2026-01-27&to=2026-04-30")  # the CSV stays by day unless asked
    assert len(by_day) == 94 + 1 and by_day[-1]["visitors"] == "9"
    month_page = client.get("/reports?from=2025-05-01&to=2026-04-30&bucket=").get_data(as_text=True)
    assert len(re.findall(r'<tr data-first=', month_page)) == 12
    assert client.get("/reports?from=2026-01-27&to=2026-04-30&bucket=year").status_code == 400
    assert client.get("/reports.csv?from=2026-01-27&to=2026-04-30&bucket=year").status_code == 400
    weekly_days = client.get("/reports?from=2026-01-27&to=2026-02-10&bucket=week").get_data(as_text=True)
    assert len(re.findall(r'<tr data-first=', weekly_days)) == 3


def test_buckets_add_up_to_the_days():
    rng = random.Random(3)
    days = days_of({}, "2026-01-01", "2026-12-31")
    for c in days:
        c.allowed, c.denied = rng.randrange(50), rng.randrange(5)
        c.visitors = c.allowed + c.denied
        c.hourly[9] = c.visitors
    for kind in ("day", "week", "month"):
        rows = buckets(days, kind)
        assert sum(b.counts.visitors for b in rows) == total(days).visitors
        assert rows[0].first == "2026-01-01" and rows[-1].last == "2026-12-31"
        assert all(date.fromisoformat(b.first) == date.fromisoformat(a.last) + timedelta(days=1)
                   for a, b in zip(rows, rows[1:]))
    assert len(buckets(days, "week")) == 53 and len(buckets(days, "month")) == 12


@pytest.mark.slow
def test_the_log_pages_across_a_bucket_boundary(app, client, auth, engine, boundaries):
    """The week 2026-01-26 – 2026-02-01 in the log, 2 rows a page: the entries of the next week's first minutes
    (inside the UTC window the time index reads) never show, and every entry of the week shows once, in order."""
    app.config["PAGE_SIZE"] = 2
    extra = store(engine, *[make_entry(local("2026-02-01 23:59:59"), gate_id="gate-2") for _ in range(3)])
    auth.login("manager")
    want = sorted((e for e in list(boundaries) + list(extra) if "2026-01-26" <= e.local_date <= "2026-02-01"),
                  key=lambda e: (e.decided_at, e.id), reverse=True)
    for sort in ("newest", "oldest", "hottest"):
        seen, url = [], f"/entries?from=2026-01-26&to=2026-02-01&sort={sort}"
        while url:
            html = client.get(url).get_data(as_text=True)
            seen += re.findall(r'<tr class="row-\w+" data-uid="(\w+)"', html)
            match = re.search(r'id="next" href="([^"]+)"', html)
            url = match.group(1).replace("&amp;", "&") if match else None
        assert sorted(seen) == sorted(e.uid for e in want) and len(seen) == len(set(seen)), sort
        if sort != "hottest":
            assert seen == [e.uid for e in (want if sort == "newest" else reversed(want))]
    rows = csv_of(client, "/entries.csv?from=2026-02-02&to=2026-02-08&sort=oldest")
    assert [r["local_time"][:19] for r in rows] == ["2026-02-02T00:00:00", "2026-02-02T00:00:01",
                                                    "2026-02-02T00:30:00"]


@pytest.mark.slow
def test_the_kept_counts_are_daily_range_s_as_the_log_grows(db_url):
    """CountsCache against daily_range: after the first read, new entries, exits and overrides, more of them,
    and a retention purge that moves old days into daily_count."""
    engine = open_database(db_url, migrate_schema=True)
    rng = random.Random(16)
    start = local("2026-03-01 07:00")

    def batch(n: int, offset_days: int) -> list:
        rows = []
        for _ in range(n):
            moment = start + timedelta(days=offset_days + rng.randrange(20), minutes=rng.randrange(600))
            outcome = rng.choice(["allowed"] * 6 + ["denied", "remeasure"])
            reasons = "" if outcome == "allowed" else rng.choice(["fever", "no_mask", "mask_below_nose", "no_face"])
            rows.append(make_entry(moment, gate_id=rng.choice(["gate-1", "gate-2"]), outcome=outcome,
                                   reasons=reasons, flagged=rng.random() < 0.05))
        return rows

    def exits(n: int) -> list:
        result = []
        for _ in range(n):
            moment = start + timedelta(days=rng.randrange(30), minutes=rng.randrange(600))
            result.append(Exit(gate_id=rng.choice(["gate-1", "gate-2"]), at=moment,
                               local_date=moment.astimezone(ZONE).date().isoformat()))
        return result

    def overrides(rows: list, n: int) -> list:
        return [Override(entry_uid=e.uid, gate_id=e.gate_id, at=e.decided_at + timedelta(minutes=3), by_user="guard",
                         outcome=rng.choice(["allowed", "denied", "remeasure"]), reason="checked")
                for e in rng.sample(rows, n)]

    def check(cache: CountsCache) -> None:
        with Session(engine) as session:
            for first, last, gate in (("2026-03-01", "2026-03-31", None), ("2026-03-05", "2026-03-12", "gate-2"),
                                      ("2026-02-01", "2026-04-30", None)):
                table = cache.table(session, first, last, gate)
                want = daily_range(session, first, last, gate)
                assert [c.as_dict() for c in days_of(table, first, last, gate)] == [c.as_dict() for c in want]
                assert {c.gate_id: c.visitors for c in gates_of(table)} == \
                    {g: total(daily_range(session, first, last, g)).visitors
                     for g in ({gate} if gate else {"gate-1", "gate-2"})}

    rows = store(engine, *batch(300, 0), *exits(40))
    store(engine, *overrides([r for r in rows if hasattr(r, "outcome")], 20))
    cache = CountsCache()
    check(cache)
    assert cache.reads == 1
    more = store(engine, *batch(200, 5), *exits(30))
    store(engine, *overrides([r for r in more if hasattr(r, "outcome")], 15))
    check(cache)
    assert cache.reads == 1  # the rows added since, by id: no second full read
    result = purge_entries(engine, "gate-1", 20, date(2026, 3, 28))  # gate-1's days before 03-08 into daily_count
    assert result.days
    check(cache)
    assert cache.reads == 2  # the purge is seen (daily_count changed): everything read again
    store(engine, *batch(50, 10))
    check(cache)
    engine.dispose()


def test_an_entry_committed_after_a_later_one_is_counted(pg_url):
    """PostgreSQL hands out ids before commit: an entry whose transaction commits after a later entry's (a gate's
    forwarder behind another's) has an id below the one the tallies stopped at, and is counted when it comes."""
    engine = open_database(pg_url, migrate_schema=True)
    cache = CountsCache()
    day = "2026-03-02"
    with Session(engine) as session:
        store(engine, make_entry(local(f"{day} 08:00")))
        assert days_of(cache.table(session, day, day), day, day)[0].visitors == 1
        slow = Session(engine, expire_on_commit=False)
        slow.add(make_entry(local(f"{day} 08:01"), outcome="denied", reasons="fever"))
        slow.flush()  # its id is taken, its row not yet visible
        store(engine, make_entry(local(f"{day} 08:02")))  # a later id, committed first
        counts = days_of(cache.table(session, day, day), day, day)[0]
        assert (counts.visitors, counts.denied) == (2, 0)
        slow.commit()
        slow.close()
        counts = days_of(cache.table(session, day, day), day, day)[0]
        assert (counts.visitors, counts.denied) == (3, 1) and cache.reads == 1
        assert [c.as_dict() for c in days_of(cache.table(session, day, day), day, day)] == \
            [c.as_dict() for c in daily_range(session, day, day)]
    engine.dispose()


def test_an_override_that_comes_before_its_entry_counts_once_the_entry_comes(db_url):
    """Forwarded from two gates' outboxes, an override can reach the central log before the entry it changes."""
    engine = open_database(db_url, migrate_schema=True)
    cache = CountsCache()
    day = "2026-03-02"
    late = make_entry(local(f"{day} 09:00"), outcome="denied", reasons="fever")
    with Session(engine) as session:
        store(engine, make_entry(local(f"{day} 08:00")))
        store(engine, Override(entry_uid=late.uid, gate_id="gate-1", at=local(f"{day} 09:05"), by_user="guard",
                               outcome="allowed", reason="re-checked"))
        counts = days_of(cache.table(session, day, day), day, day)[0]
        assert (counts.allowed, counts.denied, counts.overridden) == (1, 0, 0)
        store(engine, late)
        counts = days_of(cache.table(session, day, day), day, day)[0]
        assert (counts.allowed, counts.denied, counts.overridden) == (2, 0, 1)
        assert [c.as_dict() for c in days_of(cache.table(session, day, day), day, day)] == \
            [c.as_dict() for c in daily_range(session, day, day)]
    engine.dispose()

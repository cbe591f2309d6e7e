"""The visitor log's query plans (web/filters.py, issue 16): whichever index a filter walks or reads, and however
the overrides are applied, its pages are exactly the matching entries, in order, each once, and its count is
theirs. Checked against the definitions computed here in Python, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session
from web_helpers import make_entry

from checkpoint.db import open_database
from checkpoint.models import Entry, Override
from web import filters
from web.filters import EntryFilter, count, page, plan

START = datetime(2026, 1, 26, 0, 0, tzinfo=timezone.utc)  # Monday 07:00 in Jakarta: weeks and a month end inside
REASONS = ["", "", "", "fever", "no_mask", "fever,no_mask", "fever_retest", "mask_below_nose", "mask_incorrect",
           "no_face", "implausible_temperature"]


@pytest.fixture
def log(db_url):
    """300 entries over 12 local days (a week and a month boundary among them), two gates, overrides."""
    engine = open_database(db_url, migrate_schema=True)
    rng = random.Random(16)
    rows = []
    for i in range(300):
        reasons = rng.choice(REASONS)
        outcome = "allowed" if not reasons else rng.choice(["denied", "denied", "remeasure", "allowed"])
        moment = START + timedelta(minutes=rng.randrange(12 * 24 * 60), seconds=i % 3)
        if i % 25 == 0 and rows:
            moment = rows[-1].decided_at  # ties on the sort key: the id decides
        body = None if rng.random() < 0.15 else round(rng.gauss(36.9, 0.8), 1)
        if i % 40 == 0 and body is not None:
            body = 37.5  # ties on the temperature
        rows.append(make_entry(moment, gate_id=rng.choice(["gate-1", "gate-2"]), outcome=outcome, reasons=reasons,
                               flagged=outcome == "allowed" and bool(reasons), body_c=body))
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
        overrides = []
        for entry in rng.sample(rows, 30):
            for n in range(rng.choice([1, 1, 2])):  # the latest override counts
                overrides.append(Override(entry_uid=entry.uid, gate_id=entry.gate_id, by_user="guard",
                                          at=entry.decided_at + timedelta(minutes=5 + n),
                                          outcome=rng.choice(["allowed", "denied", "remeasure"]), reason="check"))
        session.add_all(overrides)
        session.commit()
    final = {}
    for o in overrides:
        final[o.entry_uid] = o.outcome
    yield engine, rows, final
    engine.dispose()


def matches(e: Entry, final: dict, flt: EntryFilter) -> bool:
    codes = e.reasons.split(",") if e.reasons else []
    legacy = {"mask_incorrect": {"mask_incorrect", "mask_below_nose"}}
    return (flt.first <= e.local_date <= flt.last
            and (not flt.gate or e.gate_id == flt.gate)
            and (not flt.original or e.outcome == flt.original)
            and (not flt.outcome or final.get(e.uid, e.outcome) == flt.outcome)
            and (not flt.reason or bool(legacy.get(flt.reason, {flt.reason}) & set(codes)))
            and (not flt.primary or e.primary_reason in legacy.get(flt.primary, {flt.primary}))
            and (flt.tmin is None or (e.body_c is not None and e.body_c >= flt.tmin))
            and (flt.tmax is None or (e.body_c is not None and e.body_c <= flt.tmax)))


def in_order(rows: list[Entry], sort: str) -> list[str]:
    if sort in ("newest", "oldest"):
        ordered = sorted(rows, key=lambda e: (e.decided_at, e.id), reverse=sort == "newest")
    else:
        hot = sort == "hottest"
        with_temp = sorted((e for e in rows if e.body_c is not None), key=lambda e: (e.body_c, e.id), reverse=hot)
        without = sorted((e for e in rows if e.body_c is None), key=lambda e: e.id, reverse=hot)
        ordered = with_temp + without
    return [e.uid for e in ordered]


def read_all(session, flt: EntryFilter, limit: int) -> list[str]:
    seen, after, planned = [], None, plan(session, flt)
    for _ in range(1000):
        rows, after = page(session, flt, after, limit, planned)
        seen += [e.uid for e in rows]
        if after is None:
            return seen
    raise AssertionError("the pages never end")


FILTERS = [
    dict(),
    dict(gate="gate-2"),
    dict(outcome="denied"),
    dict(outcome="allowed"),
    dict(outcome="remeasure", gate="gate-1"),
    dict(original="denied"),
    dict(original="allowed", outcome="denied"),
    dict(reason="fever"),
    dict(reason="mask_incorrect", outcome="denied"),
    dict(primary="fever", gate="gate-1"),
    dict(tmin=37.5),
    dict(tmin=37.0, tmax=37.5),
    dict(tmax=36.0, outcome="allowed"),
    dict(reason="no_face", tmin=37.5),
    dict(reason="fever", outcome="denied", tmin=36.5, tmax=38.0, gate="gate-2"),
]
RANGES = [("2026-01-26", "2026-02-06"), ("2026-01-31", "2026-02-02"), ("2026-02-01", "2026-02-01"),
          ("2000-01-01", "2099-12-31")]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["chosen", "always_walk", "overrides_per_row"])
def test_every_plan_pages_exactly_the_matching_entries(log, monkeypatch, mode):
    engine, rows, final = log
    if mode == "always_walk":
        monkeypatch.setattr(filters, "COLLECT_MAX", 0)
    elif mode == "overrides_per_row":
        monkeypatch.setattr(filters, "OVERRIDES_BY_ID", 0)
    with Session(engine) as session:
        for extra, (first, last), sort in itertools.product(FILTERS, RANGES, filters.SORTS):
            flt = EntryFilter(first, last, sort=sort, **extra)
            want = in_order([e for e in rows if matches(e, final, flt)], sort)
            got = read_all(session, flt, limit=7)
            assert got == want, (flt, plan(session, flt).describe())
            assert count(session, flt) == len(want), flt
            assert count(session, flt, cap=5) == min(len(want), 6), flt


def test_the_plan_reads_a_narrow_range_whole_and_walks_otherwise(log, monkeypatch):
    engine, _, _ = log
    monkeypatch.setattr(filters, "COLLECT_MAX", 80)  # 300 entries stand for a long log
    with Session(engine) as session:
        walked = plan(session, EntryFilter("2026-01-26", "2026-02-06", tmin=36.0))
        assert walked.ordered and walked.index == filters.TIME_INDEX
        notable = plan(session, EntryFilter("2026-01-26", "2026-02-06", reason="fever", sort="hottest"))
        assert notable.index in (filters.NOTABLE_TEMP_INDEX, filters.NOTABLE_TIME_INDEX)
        if engine.dialect.name == "sqlite":
            band = plan(session, EntryFilter("2026-01-26", "2026-02-06", tmin=39.0))
            assert not band.ordered and band.index == filters.TEMP_INDEX and band.cost is not None
            one_day = plan(session, EntryFilter("2026-02-01", "2026-02-01", sort="coolest"))
            assert one_day.index == filters.TIME_INDEX and not one_day.ordered
            short = plan(session, EntryFilter("2026-02-01", "2026-02-01", tmin=39.0))
            assert short.ordered and short.index == filters.TIME_INDEX  # one day: walked, whatever the band

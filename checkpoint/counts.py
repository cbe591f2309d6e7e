"""Daily counts from the entry log: visitors, outcomes, reasons, peak hour, occupancy.

One definition of each number, used by the screen, the reports, the API and
(for the outcome) the log's filter and the CSV (docs/api.md, "Definitions"):

- an entry's **final outcome** is its guard's latest override when there is
  one, else its own outcome (which is never changed; it stays beside it);
- a **visitor** is an entry whose final outcome is allowed or denied. A
  re-measure request is a step of a visit, not a visitor: the visitor asked to
  measure again counts once, at the decision that follows it. Re-measure
  requests are counted apart (``remeasure``);
- ``denied_by_reason`` counts final denials by the entry's main reason (the
  legacy codes under today's), those a guard turned into denials under
  ``override``; ``hourly`` counts visitors per local hour.

Grouping uses the ``local_date``/``local_hour`` columns written by the
recorder in the gate's time zone, so a local day is an index range, the same
in SQLite and PostgreSQL.

Here the daily counts read from the log (``daily_range``, ``daily_counts``); one day's record and its sums are
checkpoint/tally.py, people inside now checkpoint/occupancy.py, counts over long ranges (the cache of tallies
by row id) checkpoint/counts_cache.py, all importable from here as before.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session, col

from checkpoint.counts_cache import (  # noqa: F401
    GAP_MAX,
    GAP_TTL_S,
    TOP_IDS,
    CountsCache,
    Overridden,
    _add_archived_row,
    cache_for,
    overridden_in_range,
)
from checkpoint.models import DENIED, DailyCount, Entry, Exit, Override
from checkpoint.occupancy import occupancy, override_delta  # noqa: F401
from checkpoint.tally import (  # noqa: F401
    GUARD_OVERRIDE,
    DailyCounts,
    _gate_filter,
    _tally,
    days_of,
    gates_of,
    latest_override_ids,
    total,
)


def local_day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def daily_counts(session: Session, day: str, gate_id: Optional[str] = None, archived: bool = True) -> DailyCounts:
    """Counts for one local day (``YYYY-MM-DD``), for one gate or all gates."""
    return daily_range(session, day, day, gate_id, archived)[0]


def daily_range(session: Session, first: str, last: str, gate_id: Optional[str] = None,
                archived: bool = True) -> list[DailyCounts]:
    """Counts for every local day from ``first`` to ``last`` inclusive (days with no entries included).

    Days whose entries the retention period deleted (checkpoint/retention.py) count from ``daily_count``,
    added to what is left of them in the log (``archived=False``: the log only)."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if end < start:
        raise ValueError("the last day is before the first")
    days: dict[str, DailyCounts] = {}
    current = start
    while current <= end:
        days[current.isoformat()] = DailyCounts(current.isoformat(), gate_id)
        current += timedelta(days=1)
    in_range = (col(Entry.local_date) >= first, col(Entry.local_date) <= last)

    # One pass over the covering index ix_entry_counts; the rest is arithmetic here.
    counted = (col(Entry.local_date), col(Entry.outcome), col(Entry.primary_reason), col(Entry.local_hour),
               col(Entry.flagged))
    grouped = _gate_filter(
        select(*counted, func.count()).where(*in_range).group_by(*counted),
        Entry.gate_id, gate_id,
    )
    for day, outcome, reason, hour, flagged, count in session.exec(grouped):
        counts = days[day]
        if flagged:
            counts.flagged += count
        _tally(counts, outcome, reason, hour, count)
    # Then the final outcome: each overridden entry moves from its own outcome to its latest override's.
    latest = latest_override_ids()
    overrides = _gate_filter(
        select(col(Entry.local_date), col(Entry.local_hour), col(Entry.outcome), col(Entry.primary_reason),
               col(Override.outcome))
        .join(latest, latest.c.entry_uid == Entry.uid)
        .join(Override, col(Override.id) == latest.c.last_id)
        .where(*in_range),
        Entry.gate_id, gate_id,
    )
    for day, hour, original, reason, final in session.exec(overrides):
        if final != original:
            _tally(days[day], original, reason, hour, -1)
            _tally(days[day], final, GUARD_OVERRIDE if final == DENIED else reason, hour, 1)
    for counts in days.values():
        counts.denied_by_reason = {k: n for k, n in counts.denied_by_reason.items() if n}
        counts.visitors = counts.allowed + counts.denied

    exits = _gate_filter(
        select(col(Exit.local_date), func.count()).where(col(Exit.local_date) >= first, col(Exit.local_date) <= last)
        .group_by(col(Exit.local_date)),
        Exit.gate_id, gate_id,
    )
    for day, count in session.exec(exits):
        days[day].exits = count

    overridden = _gate_filter(
        select(col(Entry.local_date), func.count(func.distinct(Override.entry_uid)))
        .join(Override, col(Override.entry_uid) == Entry.uid)
        .where(*in_range)
        .group_by(col(Entry.local_date)),
        Entry.gate_id, gate_id,
    )
    for day, count in session.exec(overridden):
        days[day].overridden = count
    if archived:
        _add_archived(session, days, first, last, gate_id)
    return list(days.values())


def _add_archived(session: Session, days: dict[str, DailyCounts], first: str, last: str,
                  gate_id: Optional[str]) -> None:
    rows = session.exec(_gate_filter(select(DailyCount).where(col(DailyCount.day) >= first,
                                                              col(DailyCount.day) <= last),
                                     DailyCount.gate_id, gate_id)).scalars()
    for row in rows:
        _add_archived_row(days[row.day], row)


def gates_in_range(session: Session, first: str, last: str) -> list[str]:
    """Gates with entries, exits or kept counts (checkpoint/retention.py) on these local days."""
    entries = select(col(Entry.gate_id)).where(col(Entry.local_date) >= first, col(Entry.local_date) <= last).distinct()
    exits = select(col(Exit.gate_id)).where(col(Exit.local_date) >= first, col(Exit.local_date) <= last).distinct()
    archived = (select(col(DailyCount.gate_id)).where(col(DailyCount.day) >= first, col(DailyCount.day) <= last)
                .distinct())
    # execute: Session.exec runs a SQLAlchemy select the same way, but its types take SQLModel's select only
    return sorted(set(session.execute(entries).scalars()) | set(session.execute(exits).scalars())
                  | set(session.execute(archived).scalars()))

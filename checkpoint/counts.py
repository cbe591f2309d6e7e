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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from checkpoint.models import ALLOWED, DENIED, REMEASURE, DailyCount, Entry, Exit, Override
from checkpoint.reasons import canonical


GUARD_OVERRIDE = "override"  # denied_by_reason: entries a guard turned into denials


@dataclass
class DailyCounts:
    day: str
    gate_id: Optional[str]
    visitors: int = 0  # final outcomes allowed + denied
    allowed: int = 0
    denied: int = 0
    remeasure: int = 0
    flagged: int = 0
    overridden: int = 0
    denied_by_reason: dict[str, int] = field(default_factory=dict)
    hourly: list[int] = field(default_factory=lambda: [0] * 24)  # visitors per local hour
    exits: int = 0

    @property
    def peak_hour(self) -> Optional[int]:
        if not any(self.hourly):
            return None
        return max(range(24), key=lambda hour: (self.hourly[hour], -hour))

    def as_dict(self) -> dict:
        return {
            "day": self.day,
            "gate_id": self.gate_id,
            "visitors": self.visitors,
            "allowed": self.allowed,
            "denied": self.denied,
            "remeasure": self.remeasure,
            "flagged": self.flagged,
            "overridden": self.overridden,
            "denied_by_reason": dict(self.denied_by_reason),
            "peak_hour": self.peak_hour,
            "hourly": list(self.hourly),
            "exits": self.exits,
        }


def local_day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _gate_filter(statement, column, gate_id: Optional[str]):
    return statement.where(column == gate_id) if gate_id else statement


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
    days = {}
    current = start
    while current <= end:
        days[current.isoformat()] = DailyCounts(current.isoformat(), gate_id)
        current += timedelta(days=1)
    in_range = (Entry.local_date >= first, Entry.local_date <= last)

    # One pass over the covering index ix_entry_counts; the rest is arithmetic here.
    grouped = _gate_filter(
        select(Entry.local_date, Entry.outcome, Entry.primary_reason, Entry.local_hour, Entry.flagged, func.count())
        .where(*in_range)
        .group_by(Entry.local_date, Entry.outcome, Entry.primary_reason, Entry.local_hour, Entry.flagged),
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
        select(Entry.local_date, Entry.local_hour, Entry.outcome, Entry.primary_reason, Override.outcome)
        .join(latest, latest.c.entry_uid == Entry.uid)
        .join(Override, Override.id == latest.c.last_id)
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
        select(Exit.local_date, func.count()).where(Exit.local_date >= first, Exit.local_date <= last)
        .group_by(Exit.local_date),
        Exit.gate_id, gate_id,
    )
    for day, count in session.exec(exits):
        days[day].exits = count

    overridden = _gate_filter(
        select(Entry.local_date, func.count(func.distinct(Override.entry_uid)))
        .join(Override, Override.entry_uid == Entry.uid)
        .where(*in_range)
        .group_by(Entry.local_date),
        Entry.gate_id, gate_id,
    )
    for day, count in session.exec(overridden):
        days[day].overridden = count
    if archived:
        _add_archived(session, days, first, last, gate_id)
    return list(days.values())


def _add_archived(session: Session, days: dict[str, DailyCounts], first: str, last: str,
                  gate_id: Optional[str]) -> None:
    import json

    rows = session.exec(_gate_filter(select(DailyCount).where(DailyCount.day >= first, DailyCount.day <= last),
                                     DailyCount.gate_id, gate_id)).scalars()
    for row in rows:
        counts = days[row.day]
        for name in ("allowed", "denied", "remeasure", "flagged", "overridden", "exits"):
            setattr(counts, name, getattr(counts, name) + getattr(row, name))
        for code, n in json.loads(row.denied_by_reason or "{}").items():
            counts.denied_by_reason[code] = counts.denied_by_reason.get(code, 0) + n
        hourly = json.loads(row.hourly or "[]")
        if len(hourly) == 24:
            counts.hourly = [a + b for a, b in zip(counts.hourly, hourly)]
        counts.visitors = counts.allowed + counts.denied


def latest_override_ids():
    """A subquery: each overridden entry's uid and the id of its latest override."""
    return select(Override.entry_uid, func.max(Override.id).label("last_id")).group_by(Override.entry_uid).subquery()


def _tally(counts: DailyCounts, outcome: str, reason: str, hour: int, n: int) -> None:
    if outcome == ALLOWED:
        counts.allowed += n
    elif outcome == DENIED:
        counts.denied += n
        key = canonical(reason) if reason else "unknown"  # legacy codes count under today's code
        counts.denied_by_reason[key] = counts.denied_by_reason.get(key, 0) + n
    elif outcome == REMEASURE:
        counts.remeasure += n
    if outcome in (ALLOWED, DENIED) and 0 <= hour < 24:
        counts.hourly[hour] += n


def total(rows: list[DailyCounts], day: str = "", gate_id: Optional[str] = None) -> DailyCounts:
    """The sum of several days' (or gates') counts; ``hourly`` added hour by hour."""
    result = DailyCounts(day, gate_id)
    for counts in rows:
        for name in ("visitors", "allowed", "denied", "remeasure", "flagged", "overridden", "exits"):
            setattr(result, name, getattr(result, name) + getattr(counts, name))
        for code, n in counts.denied_by_reason.items():
            result.denied_by_reason[code] = result.denied_by_reason.get(code, 0) + n
        result.hourly = [a + b for a, b in zip(result.hourly, counts.hourly)]
    return result


def gates_in_range(session: Session, first: str, last: str) -> list[str]:
    """Gates with entries, exits or kept counts (checkpoint/retention.py) on these local days."""
    entries = select(Entry.gate_id).where(Entry.local_date >= first, Entry.local_date <= last).distinct()
    exits = select(Exit.gate_id).where(Exit.local_date >= first, Exit.local_date <= last).distinct()
    archived = select(DailyCount.gate_id).where(DailyCount.day >= first, DailyCount.day <= last).distinct()
    return sorted(set(session.exec(entries).scalars()) | set(session.exec(exits).scalars())
                  | set(session.exec(archived).scalars()))


def override_delta(session: Session, day: str, gate_id: Optional[str] = None) -> int:
    """How overrides change today's allowed entries: +1 for each entry a guard
    let in after all, -1 for each allowed one turned back (the latest override
    of an entry counts)."""
    latest_override = latest_override_ids()
    changes = session.exec(
        _gate_filter(
            select(Entry.outcome, Override.outcome)
            .join(latest_override, latest_override.c.entry_uid == Entry.uid)
            .join(Override, Override.id == latest_override.c.last_id)
            .where(Entry.local_date == day),
            Entry.gate_id, gate_id,
        )
    ).all()
    return sum((final == ALLOWED) - (original == ALLOWED) for original, final in changes)


def occupancy(session: Session, day: str, gate_id: Optional[str] = None) -> int:
    """People inside now: today's allowed entries (after overrides) minus today's exits."""
    allowed = session.exec(
        _gate_filter(select(func.count()).select_from(Entry).where(Entry.local_date == day, Entry.outcome == ALLOWED),
                     Entry.gate_id, gate_id)
    ).one()[0]
    allowed += override_delta(session, day, gate_id)
    exits = session.exec(
        _gate_filter(select(func.count()).select_from(Exit).where(Exit.local_date == day), Exit.gate_id, gate_id)
    ).one()[0]
    return max(allowed - exits, 0)

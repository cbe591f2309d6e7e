"""Daily counts from the entry log: visitors, outcomes, reasons, peak hour, occupancy.

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

from checkpoint.models import ALLOWED, DENIED, REMEASURE, Entry, Exit, Override
from checkpoint.reasons import canonical


@dataclass
class DailyCounts:
    day: str
    gate_id: Optional[str]
    visitors: int = 0  # final decisions: allowed + denied
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


def daily_counts(session: Session, day: str, gate_id: Optional[str] = None) -> DailyCounts:
    """Counts for one local day (``YYYY-MM-DD``), for one gate or all gates."""
    return daily_range(session, day, day, gate_id)[0]


def daily_range(session: Session, first: str, last: str, gate_id: Optional[str] = None) -> list[DailyCounts]:
    """Counts for every local day from ``first`` to ``last`` inclusive (days with no entries included)."""
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
        if outcome == ALLOWED:
            counts.allowed += count
        elif outcome == DENIED:
            counts.denied += count
            key = canonical(reason) if reason else "unknown"  # legacy codes count under today's code
            counts.denied_by_reason[key] = counts.denied_by_reason.get(key, 0) + count
        elif outcome == REMEASURE:
            counts.remeasure += count
        if outcome in (ALLOWED, DENIED):
            counts.hourly[hour] += count
    for counts in days.values():
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
    return list(days.values())


def override_delta(session: Session, day: str, gate_id: Optional[str] = None) -> int:
    """How overrides change today's allowed entries: +1 for each entry a guard
    let in after all, -1 for each allowed one turned back (the latest override
    of an entry counts)."""
    latest_override = (
        select(Override.entry_uid, func.max(Override.id).label("last_id")).group_by(Override.entry_uid).subquery()
    )
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

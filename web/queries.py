"""Read models for the screen: latest entries with their overrides, today's counts, occupancy, capacity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from sqlmodel import Session, col, select

from checkpoint.counts import DailyCounts, daily_counts, occupancy
from checkpoint.models import Entry, GateStatus, Override


@dataclass
class EntryView:
    entry: Entry
    override: Optional[Override]

    @property
    def final_outcome(self) -> str:
        return self.override.outcome if self.override else self.entry.outcome

    @property
    def colour(self) -> str:
        outcome = self.final_outcome
        if outcome == "denied":
            return "denied"
        if outcome == "remeasure" or (outcome == "allowed" and self.entry.flagged and not self.override):
            return "caution"
        return "allowed"


def latest_overrides(session: Session, uids: Iterable[str]) -> dict[str, Override]:
    """The most recent override of each entry uid."""
    uids = list(set(uids))
    found: dict[str, Override] = {}
    for start in range(0, len(uids), 500):
        rows = session.exec(select(Override).where(col(Override.entry_uid).in_(uids[start:start + 500]))
                            .order_by(col(Override.id)))
        for override in rows:
            found[override.entry_uid] = override
    return found


def with_overrides(session: Session, entries: list[Entry]) -> list[EntryView]:
    overrides = latest_overrides(session, [e.uid for e in entries])
    return [EntryView(e, overrides.get(e.uid)) for e in entries]


def recent_entries(session: Session, gate: Optional[str], limit: int,
                   only_day: Optional[str] = None) -> list[EntryView]:
    # by decision time: entries forwarded late from another gate, or a journal written at restart, take their place
    statement = select(Entry).order_by(col(Entry.decided_at).desc(), col(Entry.id).desc()).limit(limit)
    if gate:
        statement = statement.where(col(Entry.gate_id) == gate)
    if only_day:
        statement = statement.where(col(Entry.local_date) == only_day)
    return with_overrides(session, list(session.exec(statement)))


def entry_by_uid(session: Session, uid: str) -> Optional[Entry]:
    return session.exec(select(Entry).where(Entry.uid == uid)).first()


def capacity(session: Session, gate: Optional[str]) -> tuple[int, bool]:
    """(limit, building-wide) for the gate(s) on screen. Gate limits add up
    over all gates; a building limit, declared by every gate, counts once."""
    statement = select(GateStatus.capacity, GateStatus.capacity_scope)
    if gate:
        statement = statement.where(GateStatus.gate_id == gate)
    rows = session.exec(statement).all()
    building = [limit for limit, scope in rows if scope == "building"]
    per_gate = sum(limit for limit, scope in rows if scope != "building")
    return per_gate + max(building, default=0), bool(building)


def gate_ids(session: Session) -> list[str]:
    """Gates known from heartbeats."""
    return list(session.exec(select(GateStatus.gate_id).order_by(GateStatus.gate_id)))


def gate_names(session: Session) -> dict[str, str]:
    """Each known gate's name from its heartbeat (gates without a name left out)."""
    return {gate_id: name for gate_id, name in session.exec(select(GateStatus.gate_id, GateStatus.name)) if name}


@dataclass
class TodaySummary:
    counts: DailyCounts
    occupancy: int
    capacity: int
    building: bool = False  # occupancy and capacity are the whole building's

    @property
    def occupancy_ratio(self) -> Optional[float]:
        return min(self.occupancy / self.capacity, 1.0) if self.capacity else None


def today_summary(session: Session, day: str, gate: Optional[str]) -> TodaySummary:
    """Today's counts for the gate(s) on screen. Occupancy is the gate's own
    unless its limit is building-wide: then the whole building's."""
    limit, building = capacity(session, gate)
    inside = occupancy(session, day, None if building else gate)
    return TodaySummary(daily_counts(session, day, gate), inside, limit, building)

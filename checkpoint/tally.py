"""One day's counts (``DailyCounts``) and how an entry adds to them, their sums over days or gates, and the query
pieces every count shares (a gate's rows, each entry's latest override). What each number means:
checkpoint/counts.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import func, select

from checkpoint.models import ALLOWED, DENIED, REMEASURE, Override
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


def _gate_filter(statement, column, gate_id: Optional[str]):
    return statement.where(column == gate_id) if gate_id else statement


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


def days_of(table: dict[tuple[str, str], DailyCounts], first: str, last: str,
            gate_id: Optional[str] = None) -> list[DailyCounts]:
    """Every local day from ``first`` to ``last`` (days without anything included), the gates summed."""
    by_day: dict[str, list[DailyCounts]] = {}
    for (day, _gate), counts in table.items():
        by_day.setdefault(day, []).append(counts)
    result = []
    current, end = date.fromisoformat(first), date.fromisoformat(last)
    while current <= end:
        day = current.isoformat()
        result.append(total(by_day.get(day, []), day=day, gate_id=gate_id))
        current += timedelta(days=1)
    return result


def gates_of(table: dict[tuple[str, str], DailyCounts]) -> list[DailyCounts]:
    """Each gate's total over the table, by gate id."""
    by_gate: dict[str, list[DailyCounts]] = {}
    for (_day, gate), counts in table.items():
        by_gate.setdefault(gate, []).append(counts)
    return [total(rows, gate_id=gate) for gate, rows in sorted(by_gate.items())]

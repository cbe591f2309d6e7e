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

import threading
import time
import weakref
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


# -- counts over long ranges: the log's tallies per day and gate, kept up to date by row id -----------------------

GAP_TTL_S = 600.0  # an id missing below the newest one is looked for again this long (a PostgreSQL insert not
# yet committed when the tallies were read); ids of rolled-back or conflicting inserts are never filled
GAP_MAX = 10_000
TOP_IDS = 10_000  # at a full read, the ids this far below the newest one that are missing are such gaps


class _Tallies:
    """One table's rows counted per (local day, gate), each row once by its id: counted up to ``mark`` (every
    id up to it read, but ``gaps``), and the rows after it read on each refresh. Entries and exits are never
    updated in the counted columns, and only deleted by the retention period (a whole day, with its counts
    moved to ``daily_count``): a change there, or ids going back, reads everything again."""

    def __init__(self, table, columns) -> None:
        self.table, self.columns = table, columns
        self.mark = 0
        self.gaps: dict[int, float] = {}
        self.counts: dict[tuple[str, str], object] = {}

    def read_all(self, connection, grouped, add, snapshot: bool) -> None:
        """Everything, grouped. ``snapshot``: the connection reads one snapshot (PostgreSQL, repeatable read);
        else (SQLite, whose writers take turns: an id at or below the newest one read is committed) up to it."""
        self.counts = {}
        top = connection.execute(select(func.max(self.table.c.id))).scalar() or 0
        for row in connection.execute(grouped if snapshot else grouped.where(self.table.c.id <= top)):
            add(self.counts, row)
        now = time.monotonic()
        present = set(connection.execute(select(self.table.c.id).where(self.table.c.id > top - TOP_IDS)).scalars())
        self.gaps = {ident: now for ident in range(max(top - TOP_IDS, 0) + 1, top + 1) if ident not in present}
        self.mark = top

    def read_new(self, connection, add_row) -> Optional[int]:
        """Count the rows added since (how many); None when the ids went back (rows deleted at the top: read all
        again)."""
        top = connection.execute(select(func.max(self.table.c.id))).scalar() or 0
        if top < self.mark:
            return None
        now = time.monotonic()
        self.gaps = {ident: seen for ident, seen in self.gaps.items() if now - seen < GAP_TTL_S}
        if top == self.mark and not self.gaps:
            return 0
        new = self.table.c.id > self.mark
        if self.gaps:
            new = new | self.table.c.id.in_(sorted(self.gaps))
        found = set()
        for row in connection.execute(select(self.table.c.id, *self.columns).where(new, self.table.c.id <= top)):
            found.add(row[0])
            self.gaps.pop(row[0], None)
            add_row(self.counts, row[1:])
        for ident in range(self.mark + 1, top + 1):
            if ident not in found:
                self.gaps[ident] = now
        if len(self.gaps) > GAP_MAX:
            for ident in sorted(self.gaps)[:len(self.gaps) - GAP_MAX]:
                del self.gaps[ident]
        self.mark = top
        return len(found)


def _add_entries(counts, row) -> None:
    day, outcome, reason, hour, flagged, gate, n = row
    tally = counts.get((day, gate))
    if tally is None:
        tally = counts[(day, gate)] = DailyCounts(day, gate)
    if flagged:
        tally.flagged += n
    _tally(tally, outcome, reason, hour, n)


def _add_exits(counts, row) -> None:
    day, gate, n = row
    counts[(day, gate)] = counts.get((day, gate), 0) + n


class Overridden:
    """Every overridden entry: its latest override's outcome beside its own, with what the counts and the log's
    outcome filter need of the entry (``rows``: id, own outcome, final outcome, decided_at, body_c, local_date,
    gate_id, local_hour, reasons, primary_reason). Overrides are few, but joining them all to their entries on
    every request costs their number; they are read again only when an override was added (by id, as
    ``_Tallies``), when an entry arrived for an override that was waiting for it (forwarded first), or after a
    retention purge."""

    def __init__(self) -> None:
        override = Override.__table__
        self._lock = threading.Lock()
        self._ids = _Tallies(override, (override.c.entry_uid,))
        self.rows: list[tuple] = []
        self._waiting: set[str] = set()  # uids of entries overridden but not (yet) in the log
        self._archived_mark: Optional[tuple] = None
        self.reads = 0

    def refresh_in(self, connection, archived: tuple, snapshot: bool) -> None:
        """Bring ``rows`` up to date on ``connection`` (one snapshot on PostgreSQL)."""
        with self._lock:
            if self._archived_mark != archived or self.reads == 0:
                stale = True
                self._ids.read_all(connection, select(func.count()), lambda counts, row: None, snapshot)
            else:
                added = self._ids.read_new(connection, lambda counts, row: None)
                if added is None:
                    self._ids.read_all(connection, select(func.count()), lambda counts, row: None, snapshot)
                stale = added != 0
                if not stale and self._waiting:  # an entry that an override was waiting for has come
                    stale = connection.execute(select(func.count()).select_from(Entry.__table__).where(
                        Entry.__table__.c.uid.in_(sorted(self._waiting)))).scalar() > 0
            if not stale:
                return
            latest = latest_override_ids()
            self.rows = [tuple(row) for row in connection.execute(
                select(Entry.id, Entry.outcome, Override.outcome, Entry.decided_at, Entry.body_c, Entry.local_date,
                       Entry.gate_id, Entry.local_hour, Entry.reasons, Entry.primary_reason)
                .join(latest, latest.c.entry_uid == Entry.uid).join(Override, Override.id == latest.c.last_id))]
            found = connection.execute(select(latest.c.entry_uid).outerjoin(Entry, Entry.uid == latest.c.entry_uid)
                                       .where(Entry.id.is_(None))).scalars()
            self._waiting = set(found)
            self._archived_mark = archived
            self.reads += 1

    def refresh(self, engine) -> None:
        """Bring ``rows`` up to date on a connection of its own (what the log's filters call)."""
        snapshot = engine.dialect.name == "postgresql"
        with engine.connect() as connection:
            if snapshot:
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                self.refresh_in(connection, _archive_state(connection), snapshot)

    def in_range(self, first: str, last: str, gate_id: Optional[str] = None) -> list[tuple]:
        with self._lock:
            rows = self.rows
        return [row for row in rows if first <= row[5] <= last and (gate_id is None or row[6] == gate_id)]


def _archive_state(connection) -> tuple:
    """What changes when the retention period moves a day into daily_count."""
    return tuple(connection.execute(select(func.count(), func.max(DailyCount.archived_at),
                                           func.sum(DailyCount.entries_deleted))).one())


class CountsCache:
    """Daily counts for any range up to years without reading every entry on each request.

    The gate's own outcomes of the log's entries and its exits are tallied per local day and gate once, then
    only the rows added since are read (by id); on each request the overridden entries of the range
    (``Overridden``) move to their final outcome, and the counts of days the retention period removed
    (``daily_count``) are added, as ``daily_range`` does: the same figures (tests compare them). One per
    engine (``cache_for``)."""

    def __init__(self) -> None:
        entry, exit_ = Entry.__table__, Exit.__table__
        self._lock = threading.Lock()
        # in ix_entry_counts' order: the full read groups along that index, index only
        self._entries = _Tallies(entry, (entry.c.local_date, entry.c.outcome, entry.c.primary_reason,
                                         entry.c.local_hour, entry.c.flagged, entry.c.gate_id))
        self._exits = _Tallies(exit_, (exit_.c.local_date, exit_.c.gate_id))
        self.overridden = Overridden()
        self._archived_mark: Optional[tuple] = None
        self.built = False
        self.reads = 0  # full reads (for the bench and the tests)

    def refresh(self, engine) -> None:
        snapshot = engine.dialect.name == "postgresql"
        with self._lock, engine.connect() as connection:
            if snapshot:  # one snapshot for the tallies and the ids they stop at
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                archived = _archive_state(connection)
                self.overridden.refresh_in(connection, archived, snapshot)
                if self.built and archived == self._archived_mark:
                    grown = self._entries.read_new(connection, lambda c, r: _add_entries(c, (*r, 1))) is not None \
                        and self._exits.read_new(connection, lambda c, r: _add_exits(c, (*r, 1))) is not None
                    if grown:
                        return
                entries, exits = self._entries.columns, self._exits.columns
                self._entries.read_all(connection, select(*entries, func.count()).group_by(*entries), _add_entries,
                                       snapshot)
                self._exits.read_all(connection, select(*exits, func.count()).group_by(*exits), _add_exits, snapshot)
                self._archived_mark = archived
                self.built = True
                self.reads += 1

    def table(self, session: Session, first: str, last: str, gate_id: Optional[str] = None
              ) -> dict[tuple[str, str], DailyCounts]:
        """Final counts per (local day, gate) with anything on it in the range (and gate), as daily_range's."""
        for _ in range(3):
            result = self._table(session, first, last, gate_id)
            with session.get_bind().connect() as connection:
                if _archive_state(connection) == self._archived_mark:
                    return result
            # the retention period moved a day into daily_count meanwhile: count again
        return result

    def _table(self, session: Session, first: str, last: str, gate_id: Optional[str]
               ) -> dict[tuple[str, str], DailyCounts]:
        self.refresh(session.get_bind())
        result: dict[tuple[str, str], DailyCounts] = {}

        def at(day: str, gate: str) -> DailyCounts:
            found = result.get((day, gate))
            if found is None:
                found = result[(day, gate)] = DailyCounts(day, gate)
            return found

        with self._lock:
            for (day, gate), raw in self._entries.counts.items():
                if first <= day <= last and (gate_id is None or gate == gate_id):
                    counts = at(day, gate)
                    counts.allowed, counts.denied, counts.remeasure = raw.allowed, raw.denied, raw.remeasure
                    counts.flagged, counts.hourly = raw.flagged, list(raw.hourly)
                    counts.denied_by_reason = dict(raw.denied_by_reason)
            for (day, gate), n in self._exits.counts.items():
                if first <= day <= last and (gate_id is None or gate == gate_id):
                    at(day, gate).exits = n
        for _id, original, final, _at, _body, day, gate, hour, _reasons, reason in \
                self.overridden.in_range(first, last, gate_id):
            counts = at(day, gate)
            counts.overridden += 1
            if final != original:
                _tally(counts, original, reason, hour, -1)
                _tally(counts, final, GUARD_OVERRIDE if final == DENIED else reason, hour, 1)
        for counts in result.values():
            counts.denied_by_reason = {k: n for k, n in counts.denied_by_reason.items() if n}
            counts.visitors = counts.allowed + counts.denied
        for row in session.exec(_gate_filter(select(DailyCount).where(DailyCount.day >= first,
                                                                      DailyCount.day <= last),
                                             DailyCount.gate_id, gate_id)).scalars():
            _add_archived_row(at(row.day, row.gate_id), row)
        return result


def _add_archived_row(counts: DailyCounts, row) -> None:
    """A ``daily_count`` row added to a day's counts (as ``_add_archived``)."""
    import json

    for name in ("allowed", "denied", "remeasure", "flagged", "overridden", "exits"):
        setattr(counts, name, getattr(counts, name) + getattr(row, name))
    for code, n in json.loads(row.denied_by_reason or "{}").items():
        counts.denied_by_reason[code] = counts.denied_by_reason.get(code, 0) + n
    hourly = json.loads(row.hourly or "[]")
    if len(hourly) == 24:
        counts.hourly = [a + b for a, b in zip(counts.hourly, hourly)]
    counts.visitors = counts.allowed + counts.denied


_caches: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def overridden_in_range(session: Session, first: str, last: str, gate_id: Optional[str] = None) -> list[tuple]:
    """The overridden entries of these local days (and gate), up to date (``Overridden.rows``)."""
    engine = session.get_bind()
    kept = cache_for(engine).overridden
    kept.refresh(engine)
    return kept.in_range(first, last, gate_id)


def cache_for(engine) -> CountsCache:
    """The engine's CountsCache (one per database an app opens)."""
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = CountsCache()
        return cache


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

"""Counts over long ranges (checkpoint/counts.py): the log's tallies per day and gate, kept up to date by row id
(``CountsCache``, one per engine: ``cache_for``), and the overridden entries beside them (``Overridden``), which
the log's outcome filter reads too (``overridden_in_range``)."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Generic, Optional, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from checkpoint.models import DENIED, DailyCount, Entry, Exit, Override, table_of
from checkpoint.tally import GUARD_OVERRIDE, DailyCounts, _gate_filter, _tally, latest_override_ids

# -- counts over long ranges: the log's tallies per day and gate, kept up to date by row id -----------------------

GAP_TTL_S = 600.0  # an id missing below the newest one is looked for again this long (a PostgreSQL insert not
# yet committed when the tallies were read); ids of rolled-back or conflicting inserts are never filled
GAP_MAX = 10_000
TOP_IDS = 10_000  # at a full read, the ids this far below the newest one that are missing are such gaps

_Count = TypeVar("_Count")  # what a _Tallies keeps per (local day, gate)


class _Tallies(Generic[_Count]):
    """One table's rows counted per (local day, gate), each row once by its id: counted up to ``mark`` (every
    id up to it read, but ``gaps``), and the rows after it read on each refresh. Entries and exits are never
    updated in the counted columns, and only deleted by the retention period (a whole day, with its counts
    moved to ``daily_count``): a change there, or ids going back, reads everything again."""

    def __init__(self, table, columns) -> None:
        self.table, self.columns = table, columns
        self.mark = 0
        self.gaps: dict[int, float] = {}
        self.counts: dict[tuple[str, str], _Count] = {}

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
        override = table_of(Override)
        self._lock = threading.Lock()
        self._ids: _Tallies[None] = _Tallies(override, (override.c.entry_uid,))  # its ids only: nothing counted
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
                    stale = connection.execute(select(func.count()).select_from(table_of(Entry)).where(
                        table_of(Entry).c.uid.in_(sorted(self._waiting)))).scalar() > 0
            if not stale:
                return
            latest = latest_override_ids()
            self.rows = [tuple(row) for row in connection.execute(
                select(col(Entry.id), col(Entry.outcome), col(Override.outcome), col(Entry.decided_at),
                       col(Entry.body_c), col(Entry.local_date), col(Entry.gate_id), col(Entry.local_hour),
                       col(Entry.reasons), col(Entry.primary_reason))
                .join(latest, latest.c.entry_uid == Entry.uid).join(Override, col(Override.id) == latest.c.last_id))]
            found = connection.execute(select(latest.c.entry_uid)
                                       .outerjoin(Entry, col(Entry.uid) == latest.c.entry_uid)
                                       .where(col(Entry.id).is_(None))).scalars()
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
        entry, exit_ = table_of(Entry), table_of(Exit)
        self._lock = threading.Lock()
        # in ix_entry_counts' order: the full read groups along that index, index only
        self._entries: _Tallies[DailyCounts] = _Tallies(entry, (entry.c.local_date, entry.c.outcome,
                                                                entry.c.primary_reason, entry.c.local_hour,
                                                                entry.c.flagged, entry.c.gate_id))
        self._exits: _Tallies[int] = _Tallies(exit_, (exit_.c.local_date, exit_.c.gate_id))
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
        engine = session.get_bind()
        if not isinstance(engine, Engine):
            raise TypeError("the counts cache reads on connections of its own: a session bound to an engine")
        for _ in range(3):
            result = self._table(session, first, last, gate_id)
            with engine.connect() as connection:
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
        for row in session.exec(_gate_filter(select(DailyCount).where(col(DailyCount.day) >= first,
                                                                      col(DailyCount.day) <= last),
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

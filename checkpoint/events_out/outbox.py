"""The local log as the outbox of each events sink (MQTT, webhook).

A sink has a cursor per table of the log (``entry``, ``exit``, ``override``):
the highest row id it has delivered, kept in the ``event_cursor`` table of
the same log (one row per gate, sink and table), so the cursor and the rows
it points into are always the same database, a restored copy included. Each
pass reads the rows after the cursors, this gate's only, merges the three
tables in time order (each table stays in id order), and after delivery moves
the cursors to what was delivered. Cursors are saved at most every
``save_every_s`` (and at stop): a crash re-sends at most that much, which the
consumers drop by uid, rather than writing the log after every entry.

Ids are read in order and a hole in them is waited for: on PostgreSQL a row
whose transaction has not committed yet has its id already, and a cursor
moved past it would skip it for good. A hole left for ``gap_wait_s`` is a
rolled-back insert (no row will come) and is passed. In SQLite, with one
writer at a time, there are none.

The log's ids can go back: SQLite numbers a new row after the highest one
left, so when the retention period (checkpoint/retention.py) has deleted
every row up to the newest, the next rows get ids a cursor has passed. Each
cursor therefore also keeps the uid and time of the row it points at; when
that row is gone (or is another), the cursor goes back to the last row not
newer than it, and the rows written since are read.

A sink configured for the first time starts at the end of the log: it sends
what happens from then on, not the history.
"""

from __future__ import annotations

import heapq
import logging
import time
from datetime import datetime, timezone
from typing import Callable, NamedTuple, Optional

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from checkpoint.db import dialect_insert
from checkpoint.events_out.payloads import LOGGED, ROW_EVENTS, Event, utc
from checkpoint.models import Entry, EventCursor, Exit, Override, table_of

log = logging.getLogger(__name__)

TABLES = {"entry": table_of(Entry), "exit": table_of(Exit), "override": table_of(Override)}
TIMES = {"entry": "decided_at", "exit": "at", "override": "at"}
CURSORS = table_of(EventCursor)


class Mark(NamedTuple):
    """Where a cursor points: a row's id, and its uid and time (None: not known)."""

    id: int
    uid: Optional[str] = None
    at: Optional[datetime] = None


def _upsert(dialect: str):
    return dialect_insert(dialect, "events out from the log")


class Outbox:
    def __init__(self, engine: Engine, gate_id: str, sink: str, batch: int = 100, gap_wait_s: float = 2.0,
                 save_every_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.gate_id, self.sink = engine, gate_id, sink
        self.batch, self.gap_wait_s, self.save_every_s, self.clock = batch, gap_wait_s, save_every_s, clock
        self._marks: Optional[dict[str, Mark]] = None  # table -> the last row delivered
        self._saved: dict[str, Mark] = {}
        self._saved_at = float("-inf")
        self._gaps: dict[tuple[str, int], float] = {}  # (table, missing id) -> first seen (monotonic)
        self._passed: dict[str, int] = {}  # table -> ids up to which a hole is rows deleted, never rows to come

    # -- cursors -------------------------------------------------------------------

    def load(self) -> dict[str, int]:
        """The saved cursors (ids); a table this sink has none for starts at the log's end (saved at once)."""
        if self._marks is None:
            with self.engine.begin() as connection:
                rows = connection.execute(select(CURSORS.c.source, CURSORS.c.last_id, CURSORS.c.last_uid,
                                                 CURSORS.c.last_at).where(
                    CURSORS.c.gate_id == self.gate_id, CURSORS.c.sink == self.sink)).all()
                marks = {source: Mark(last_id, uid, utc(at)) for source, last_id, uid, at in rows if source in TABLES}
                for source, table in TABLES.items():
                    if source not in marks:
                        last = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
                        marks[source] = self._mark_at(connection, source, last)
                        log.info("events out (%s): %s rows from id %d on", self.sink, source, last + 1)
            self._marks = marks
            self.save(force=True)
        return {source: mark.id for source, mark in self._marks.items()}

    def _loaded(self) -> dict[str, Mark]:
        """The cursors in memory (``load`` reads them)."""
        if self._marks is None:
            raise RuntimeError("events out: the cursors are not loaded")
        return self._marks

    @staticmethod
    def _mark_at(connection, source: str, row_id: int) -> Mark:
        table = TABLES[source]
        row = connection.execute(select(table.c.uid, table.c[TIMES[source]]).where(table.c.id == row_id)).first() \
            if row_id else None
        return Mark(row_id, row[0], utc(row[1])) if row else Mark(row_id)

    def _check_rewind(self, connection, source: str) -> None:
        """Go back when the row the cursor points at is gone or another (the log's ids went back)."""
        marks = self._loaded()
        mark = marks[source]
        if not mark.id or mark.uid is None:
            return
        table = TABLES[source]
        uid = connection.execute(select(table.c.uid).where(table.c.id == mark.id)).scalar()
        if uid == mark.uid:
            return
        back = 0
        if mark.at is not None:
            back = connection.execute(select(func.coalesce(func.max(table.c.id), 0))
                                      .where(table.c[TIMES[source]] <= mark.at)).scalar_one()
        back = min(back, mark.id)
        log.warning("events out (%s): %s row %d (%s) is gone from the log (a retention purge, or another file): "
                    "reading again after id %d", self.sink, source, mark.id, mark.uid[:8], back)
        marks[source] = self._mark_at(connection, source, back)
        self._gaps = {key: seen for key, seen in self._gaps.items() if key[0] != source}
        self._passed[source] = max(self._passed.get(source, 0), mark.id)  # ids read before: holes, not in flight

    def save(self, force: bool = False) -> bool:
        """Write the cursors that moved (at most every ``save_every_s`` unless ``force``)."""
        if self._marks is None:
            return False
        changed = {source: mark for source, mark in self._marks.items() if self._saved.get(source) != mark}
        if not changed or (not force and time.monotonic() - self._saved_at < self.save_every_s):
            return not changed
        stamp = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        values = [{"gate_id": self.gate_id, "sink": self.sink, "source": source, "last_id": mark.id,
                   "last_uid": mark.uid, "last_at": mark.at, "updated_at": stamp} for source, mark in changed.items()]
        with self.engine.begin() as connection:
            statement = _upsert(connection.dialect.name)(CURSORS)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["gate_id", "sink", "source"],
                set_={name: statement.excluded[name] for name in ("last_id", "last_uid", "last_at", "updated_at")}),
                values)
        self._saved.update(changed)
        self._saved_at = time.monotonic()
        return True

    # -- reading and moving on ---------------------------------------------------------

    def read(self) -> tuple[list[Event], dict[str, Mark]]:
        """This gate's rows after the cursors, as events in time order, and how far each table was read."""
        self.load()
        now = time.monotonic()
        per_table: list[list[Event]] = []
        scanned: dict[str, Mark] = {}
        with self.engine.connect() as connection:
            for source in LOGGED:
                self._check_rewind(connection, source)
                table, mark = TABLES[source], self._loaded()[source]
                rows = connection.execute(select(table).where(table.c.id > mark.id)
                                          .order_by(table.c.id).limit(self.batch)).all()
                events, expected = [], mark.id + 1
                scanned[source] = mark
                for row in rows:
                    if row.id != expected and row.id - 1 > self._passed.get(source, 0):
                        # a hole: a transaction still open, or one rolled back
                        first = self._gaps.setdefault((source, expected), now)
                        if now - first < self.gap_wait_s:
                            break
                        log.debug("events out (%s): %s ids %d..%d never came, passed", self.sink, source,
                                  expected, row.id - 1)
                    if row.gate_id == self.gate_id:
                        events.append(ROW_EVENTS[source](row, row.id))
                    scanned[source] = Mark(row.id, row.uid, utc(getattr(row, TIMES[source])))
                    expected = row.id + 1
                per_table.append(events)
        self._gaps = {key: seen for key, seen in self._gaps.items() if key[1] > scanned[key[0]].id}
        return list(heapq.merge(*per_table, key=lambda event: event.t)), scanned

    def advance(self, events: list[Event], delivered: int, scanned: dict[str, Mark]) -> None:
        """The first ``delivered`` of ``events`` (as :meth:`read` gave them) were delivered."""
        self.load()
        marks = self._loaded()
        done = events[:delivered]
        done_ids = {id(event) for event in done}
        for source in LOGGED:
            if all(id(event) in done_ids for event in events if event.source == source):
                if source in scanned and scanned[source].id > marks[source].id:
                    marks[source] = scanned[source]
            else:
                sent = [event for event in done if event.source == source]
                last = sent[-1] if sent else None  # events read from the log: row_id is set
                if last is not None and last.row_id is not None and last.row_id > marks[source].id:
                    marks[source] = Mark(last.row_id, last.uid, last.row_at)

    def pending(self) -> int:
        """This gate's rows not delivered yet (as far as the cursors in memory say)."""
        cursor = self.load()
        with self.engine.connect() as connection:
            return sum(connection.execute(select(func.count()).select_from(table).where(
                table.c.id > cursor[source], table.c.gate_id == self.gate_id)).scalar_one()
                for source, table in TABLES.items())

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

A sink configured for the first time starts at the end of the log: it sends
what happens from then on, not the history.
"""

from __future__ import annotations

import heapq
import logging
import time
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from checkpoint.events_out.payloads import LOGGED, ROW_EVENTS, Event
from checkpoint.models import Entry, EventCursor, Exit, Override

log = logging.getLogger(__name__)

TABLES = {"entry": Entry.__table__, "exit": Exit.__table__, "override": Override.__table__}
CURSORS = EventCursor.__table__


def _upsert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"events out need a SQLite or PostgreSQL log, not {dialect}")
    return insert


class Outbox:
    def __init__(self, engine: Engine, gate_id: str, sink: str, batch: int = 100, gap_wait_s: float = 2.0,
                 save_every_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.gate_id, self.sink = engine, gate_id, sink
        self.batch, self.gap_wait_s, self.save_every_s, self.clock = batch, gap_wait_s, save_every_s, clock
        self._cursor: Optional[dict[str, int]] = None  # table -> last id delivered
        self._saved: dict[str, int] = {}
        self._saved_at = float("-inf")
        self._gaps: dict[tuple[str, int], float] = {}  # (table, missing id) -> first seen (monotonic)

    # -- cursors -------------------------------------------------------------------

    def load(self) -> dict[str, int]:
        """The saved cursors; a table this sink has none for starts at the log's end (saved at once)."""
        if self._cursor is not None:
            return self._cursor
        with self.engine.begin() as connection:
            rows = connection.execute(select(CURSORS.c.source, CURSORS.c.last_id).where(
                CURSORS.c.gate_id == self.gate_id, CURSORS.c.sink == self.sink)).all()
            cursor = {source: last_id for source, last_id in rows if source in TABLES}
            for source, table in TABLES.items():
                if source not in cursor:
                    cursor[source] = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
                    log.info("events out (%s): %s rows from id %d on", self.sink, source, cursor[source] + 1)
        self._cursor = cursor
        self.save(force=True)
        return cursor

    def save(self, force: bool = False) -> bool:
        """Write the cursors that moved (at most every ``save_every_s`` unless ``force``)."""
        if self._cursor is None:
            return False
        changed = {source: last for source, last in self._cursor.items() if self._saved.get(source) != last}
        if not changed or (not force and time.monotonic() - self._saved_at < self.save_every_s):
            return not changed
        stamp = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        values = [{"gate_id": self.gate_id, "sink": self.sink, "source": source, "last_id": last,
                   "updated_at": stamp} for source, last in changed.items()]
        with self.engine.begin() as connection:
            statement = _upsert(connection.dialect.name)(CURSORS)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["gate_id", "sink", "source"],
                set_={"last_id": statement.excluded.last_id, "updated_at": statement.excluded.updated_at}), values)
        self._saved.update(changed)
        self._saved_at = time.monotonic()
        return True

    # -- reading and moving on ---------------------------------------------------------

    def read(self) -> tuple[list[Event], dict[str, int]]:
        """This gate's rows after the cursors, as events in time order, and how far each table was read."""
        cursor = self.load()
        now = time.monotonic()
        per_table: list[list[Event]] = []
        scanned: dict[str, int] = {}
        with self.engine.connect() as connection:
            for source in LOGGED:
                table = TABLES[source]
                rows = connection.execute(select(table).where(table.c.id > cursor[source])
                                          .order_by(table.c.id).limit(self.batch)).all()
                events, expected = [], cursor[source] + 1
                scanned[source] = cursor[source]
                for row in rows:
                    if row.id != expected:  # a hole: a transaction still open, or one rolled back
                        first = self._gaps.setdefault((source, expected), now)
                        if now - first < self.gap_wait_s:
                            break
                        log.debug("events out (%s): %s ids %d..%d never came, passed", self.sink, source,
                                  expected, row.id - 1)
                    if row.gate_id == self.gate_id:
                        events.append(ROW_EVENTS[source](row, row.id))
                    scanned[source] = row.id
                    expected = row.id + 1
                per_table.append(events)
        self._gaps = {key: seen for key, seen in self._gaps.items() if key[1] > scanned[key[0]]}
        return list(heapq.merge(*per_table, key=lambda event: event.t)), scanned

    def advance(self, events: list[Event], delivered: int, scanned: dict[str, int]) -> None:
        """The first ``delivered`` of ``events`` (as :meth:`read` gave them) were delivered."""
        cursor = self.load()
        done = events[:delivered]
        done_ids = {id(event) for event in done}
        for source in LOGGED:
            if all(id(event) in done_ids for event in events if event.source == source):
                cursor[source] = max(cursor[source], scanned.get(source, cursor[source]))
            else:
                ids = [event.row_id for event in done if event.source == source]
                if ids:
                    cursor[source] = max(cursor[source], ids[-1])

    def pending(self) -> int:
        """This gate's rows not delivered yet (as far as the cursors in memory say)."""
        cursor = self.load()
        with self.engine.connect() as connection:
            return sum(connection.execute(select(func.count()).select_from(table).where(
                table.c.id > cursor[source], table.c.gate_id == self.gate_id)).scalar_one()
                for source, table in TABLES.items())

"""The visitor log's filter, sort and keyset pagination, shared by the log, the CSV export and the API.

Every query walks one of four covering indexes (checkpoint.models.LOG_INDEXES, migration 0006), so no filter
reads the table except for the rows of the page:

- ``ix_entry_log_time`` / ``ix_entry_log_temp``: every entry by decision time (``decided_at, id``) or by
  temperature (``body_c, id``), with the local date, gate, outcome, primary reason and temperature in the index;
- ``ix_entry_notable_time`` / ``ix_entry_notable_temp``: the same, and the reasons, over the entries that are not
  plainly allowed (checkpoint.models.NOTABLE: about a tenth of the log). A reason, primary-reason or outcome
  filter (other than allowed) walks these.

A plan (``plan``) picks the index: it walks the one in the page's sort order, unless the filter's own range
on the other index is small (``COLLECT_MAX`` entries: a narrow temperature band sorted by time, a short date
range sorted by temperature), which is then read whole and sorted. SQLite is told the index (INDEXED BY);
PostgreSQL's planner gets the same query and picks from its statistics.

Local dates filter on ``Entry.local_date``; a UTC window on ``decided_at`` wide enough for any time zone (UTC-12
to UTC+14) is added so the time indexes serve the range. The final outcome (a guard's latest override, else the
gate's own, checkpoint.counts) is the gate's outcome with the few overridden entries whose outcome changed taken
out or added by id. Rows without a temperature sort last, read apart (``body_c IS NULL``) so both databases walk
the index. Pages are keyset (``after`` = the last row's sort key and id).

The parts: web/log_filter.py (the filter from a query string), web/log_sql.py (the index a query walks and its
WHERE terms), web/log_pages.py (keyset pages and their cursors); here the plan and the reads (pages, counts,
the export's rows), and every name the log's importers use from here.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

from sqlalchemy import func, literal, select, text
from sqlmodel import Session, col

from checkpoint.counts import overridden_in_range
from checkpoint.models import NOTABLE, Entry, Override
from checkpoint.reasons import family
from web.log_filter import CODE, EARLIEST, GATE, LATEST, SORTS, EntryFilter, FilterError, parse_day  # noqa: F401
from web.log_pages import ID_MAX, NO_TEMP_HIGH, NO_TEMP_LOW, _page_keys, cursor_token, moment, page_statements  # noqa: F401
from web.log_sql import (  # noqa: F401
    BY_ID,
    NOTABLE_TEMP_INDEX,
    NOTABLE_TIME_INDEX,
    TEMP_INDEX,
    TIME_INDEX,
    Plan,
    _range_terms,
    _sort_index,
    _table,
    count_statement,
    final_outcome,
)

COLLECT_MAX = 50_000  # an unordered range up to this many index entries is read whole and sorted
OVERRIDES_BY_ID = 30_000  # up to this many changed outcomes in the range go by id; more: a subquery per row


def _override_changes(session: Session, flt: EntryFilter) -> Optional[tuple[tuple[int, ...], tuple[tuple, ...]]]:
    """(exclude ids, include rows) for the final-outcome filter, or None when there are too many to list.

    From the overridden entries the counts keep (checkpoint.counts.Overridden: read again only when an override
    is added), so an outcome filter does not join every override to its entry on each request."""
    rows = [row for row in overridden_in_range(session, flt.first, flt.last, flt.gate) if row[1] != row[2]]
    if len(rows) > OVERRIDES_BY_ID:
        return None
    lower, upper = flt.window()
    exclude = tuple(sorted(row[0] for row in rows if row[1] == flt.outcome))
    include = tuple((ident, decided_at, body_c)
                    for ident, own, final, decided_at, body_c, _day, _gate, _hour, reasons, primary in rows
                    if final == flt.outcome and lower <= moment(decided_at) < upper
                    and _also_matches(flt, own, reasons, primary, body_c))
    return exclude, include


def _also_matches(flt: EntryFilter, outcome: str, reasons: str, primary: str, body_c: Optional[float]) -> bool:
    """The filter's terms besides the dates, gate and final outcome, on one entry (as ``_terms`` in SQL)."""
    codes = reasons.split(",") if reasons else []
    return ((not flt.original or outcome == flt.original)
            and (not flt.reason or any(code in codes for code in family(flt.reason)))
            and (not flt.primary or primary in family(flt.primary))
            and (flt.tmin is None or (body_c is not None and body_c >= flt.tmin))
            and (flt.tmax is None or (body_c is not None and body_c <= flt.tmax)))


def plan(session: Session, flt: EntryFilter) -> Plan:
    """Choose the index for ``flt`` (see the module's docstring): the overrides of the range for an outcome filter,
    and on SQLite up to two ranges' sizes (each at most COLLECT_MAX + 1 index entries)."""
    result = Plan(flt, _sort_index(flt, flt.by_time), True)
    if flt.outcome:
        changes = _override_changes(session, flt)
        if changes is None:
            result.correlated = True
            result.index = TIME_INDEX if flt.by_time else TEMP_INDEX  # a notable walk would miss the overridden
        else:
            result.exclude, result.include = changes
    if session.get_bind().dialect.name != "sqlite":
        # PostgreSQL plans the same query from its statistics, for these values: a prepared statement's generic
        # plan (psycopg prepares a query it has run 5 times) cannot tell a rare band or reason from a common one
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        return result
    if flt.by_time and flt.tmin is None and flt.tmax is None:
        return result  # no temperature range: nothing narrower than the dates to read instead
    if _size(session, result.index, flt, flt.by_time) <= COLLECT_MAX:
        return result  # the walk's own range is short: at most that many entries whatever the filter
    other = (TEMP_INDEX if flt.by_time else TIME_INDEX) if result.correlated else _sort_index(flt, not flt.by_time)
    cost = _size(session, other, flt, not flt.by_time)
    if cost <= COLLECT_MAX:
        result.index, result.ordered, result.cost = other, False, cost
    return result


def _size(session: Session, index: str, flt: EntryFilter, by_time: bool) -> int:
    """Entries in an index's range for ``flt`` (the dates' window or the temperature band), up to COLLECT_MAX + 1."""
    table = _table(index)
    terms = _range_terms(table, flt, by_time)
    if index in (NOTABLE_TIME_INDEX, NOTABLE_TEMP_INDEX):
        terms.append(text(f"({NOTABLE})"))
    sized = select(literal(1)).select_from(table).where(*terms).limit(COLLECT_MAX + 1).subquery()
    # execute, here and below: Session.exec runs a SQLAlchemy statement the same way, but its types take
    # SQLModel's select only
    return session.execute(select(func.count()).select_from(sized)).scalar_one()


def page(session: Session, flt: EntryFilter, after: Optional[str], limit: int,
         planned: Optional[Plan] = None) -> tuple[list[Entry], Optional[str]]:
    """One page of matching entries and the cursor of the next page (None at the end)."""
    p = planned or plan(session, flt)
    keys, next_after = _page_keys(session, p, after, limit)
    if not keys:
        return [], next_after
    by_id = {e.id: e for e in session.execute(select(Entry).where(col(Entry.id).in_([k[0] for k in keys]))).scalars()}
    return [by_id[k[0]] for k in keys if k[0] in by_id], next_after


def count(session: Session, flt: EntryFilter, cap: Optional[int] = None, planned: Optional[Plan] = None) -> int:
    """Matching rows; with ``cap``, counting stops after cap + 1 (shown as "cap+"), so a year stays cheap."""
    p = planned or plan(session, flt)
    total = session.exec(count_statement(p, cap)).scalar_one() + len(p.include)
    return total if cap is None else min(total, cap + 1)


def iterate_rows(session: Session, flt: EntryFilter, columns: Sequence[str], chunk: int = 2000,
                 planned: Optional[Plan] = None) -> Iterator[list]:
    """Every matching entry in sort order, one keyset chunk at a time, as rows (id, decided_at as the database
    holds it, body_c, *columns) of Entry column names: what an export reads, without ORM objects."""
    p = planned or plan(session, flt)
    after = None
    while True:
        rows, after = _page_keys(session, p, after, chunk, columns)
        if rows:
            yield rows
        if after is None:
            return


def latest_overrides_in_range(session: Session, flt: EntryFilter) -> dict[str, Override]:
    """The latest override of each entry on the filter's dates (and gate), by entry uid: read once for an export."""
    latest = (select(col(Override.entry_uid), func.max(col(Override.id)).label("last_id"))
              .group_by(col(Override.entry_uid)).subquery())
    statement = (select(Override).join(latest, latest.c.last_id == col(Override.id))
                 .join(Entry, col(Entry.uid) == col(Override.entry_uid))
                 .where(col(Entry.local_date) >= flt.first, col(Entry.local_date) <= flt.last))
    if flt.gate:
        statement = statement.where(col(Entry.gate_id) == flt.gate)
    return {o.entry_uid: o for o in session.execute(statement).scalars()}


def iterate(session: Session, flt: EntryFilter, chunk: int = 1000) -> Iterator[list[Entry]]:
    """Every matching entry, in sort order, one keyset chunk at a time."""
    p = plan(session, flt)
    after = None
    while True:
        rows, after = page(session, flt, after, chunk, p)
        if rows:
            yield rows
        if after is None:
            return

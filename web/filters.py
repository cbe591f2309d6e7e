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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping, Optional, Sequence

from sqlalchemy import (ARRAY, Boolean, ColumnElement, Integer, String, and_, bindparam, func, literal, or_,
                        select, text, tuple_, type_coerce)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias
from sqlmodel import Session

from checkpoint.counts import overridden_in_range
from checkpoint.models import ALLOWED, NOTABLE, OUTCOMES, Entry, Override
from checkpoint.reasons import family

SORTS = ("newest", "oldest", "hottest", "coolest")
CODE = re.compile(r"[a-z0-9_]{1,32}")
GATE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NO_TEMP_HIGH, NO_TEMP_LOW = 1000.0, -1000.0  # where rows without a temperature sort (in page cursors)
COLLECT_MAX = 50_000  # an unordered range up to this many index entries is read whole and sorted
OVERRIDES_BY_ID = 30_000  # up to this many changed outcomes in the range go by id; more: a subquery per row
TIME_INDEX, TEMP_INDEX = "ix_entry_log_time", "ix_entry_log_temp"
NOTABLE_TIME_INDEX, NOTABLE_TEMP_INDEX = "ix_entry_notable_time", "ix_entry_notable_temp"


class FilterError(ValueError):
    pass


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # keeps the UTC window arithmetic in range


def parse_day(text: str, name: str) -> date:
    """A local date from a form or query, within the years the log can hold."""
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(f"{name}: expected a date YYYY-MM-DD") from exc
    if not EARLIEST <= day <= LATEST:
        raise FilterError(f"{name}: between {EARLIEST} and {LATEST}")
    return day


def _date(text: str, name: str) -> str:
    return parse_day(text, name).isoformat()


def _float(text: str, name: str) -> Optional[float]:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FilterError(f"{name}: expected a number") from exc
    if not math.isfinite(value):
        raise FilterError(f"{name}: expected a number")
    return value


def final_outcome(table=None):
    """The entry's final outcome as SQL: its latest override's outcome, else its own (checkpoint.counts)."""
    table = Entry.__table__ if table is None else table
    latest = (select(Override.outcome).where(Override.entry_uid == table.c.uid).order_by(Override.id.desc())
              .limit(1).correlate(table).scalar_subquery())
    return func.coalesce(latest, table.c.outcome)


@dataclass(frozen=True)
class EntryFilter:
    first: str
    last: str
    gate: Optional[str] = None
    outcome: Optional[str] = None  # the final outcome (a guard's override when there is one)
    reason: Optional[str] = None  # any of Entry.reasons
    primary: Optional[str] = None  # Entry.primary_reason
    tmin: Optional[float] = None
    tmax: Optional[float] = None
    sort: str = "newest"
    original: Optional[str] = None  # the gate's own outcome, whatever a guard made of it

    @classmethod
    def from_args(cls, args: Mapping[str, str], default_day: str, fixed_gate: Optional[str] = None) -> "EntryFilter":
        first = _date(args.get("from") or default_day, "from")
        last = _date(args.get("to") or first, "to")
        if last < first:
            raise FilterError("to: before from")
        gate = fixed_gate or (args.get("gate") or None)
        if gate and not GATE.fullmatch(gate):
            raise FilterError("gate: not a gate id")
        outcome, original = args.get("outcome") or None, args.get("original") or None
        for name, value in (("outcome", outcome), ("original", original)):
            if value and value not in OUTCOMES:
                raise FilterError(f"{name}: one of {', '.join(OUTCOMES)}")
        reason, primary = args.get("reason") or None, args.get("primary") or None
        for name, code in (("reason", reason), ("primary", primary)):
            if code and not CODE.fullmatch(code):
                raise FilterError(f"{name}: not a reason code")
        sort = args.get("sort") or "newest"
        if sort not in SORTS:
            raise FilterError(f"sort: one of {', '.join(SORTS)}")
        return cls(first, last, gate, outcome, reason, primary, _float(args.get("tmin", ""), "tmin"),
                   _float(args.get("tmax", ""), "tmax"), sort, original)

    def query_args(self) -> dict[str, str]:
        """The filter as URL parameters (for links and the CSV export)."""
        names = {"first": "from", "last": "to"}
        result = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != "":
                result[names.get(f.name, f.name)] = str(value)
        return result

    @property
    def by_time(self) -> bool:
        return self.sort in ("newest", "oldest")

    @property
    def descending(self) -> bool:
        return self.sort in ("newest", "hottest")

    @property
    def notable(self) -> bool:
        """Whether every matching entry is a notable one (not plainly allowed): then the notable indexes serve.

        An entry a guard turned from allowed into the outcome asked for is added by id (``Plan.include``)."""
        return bool(self.reason or self.primary or (self.original and self.original != ALLOWED)
                    or (self.outcome and self.outcome != ALLOWED))

    def window(self) -> tuple[datetime, datetime]:
        """UTC bounds of decided_at wide enough for the local dates in any time zone (UTC-12 to UTC+14)."""
        lower = datetime.combine(date.fromisoformat(self.first), time(), timezone.utc) - timedelta(hours=14)
        upper = datetime.combine(date.fromisoformat(self.last) + timedelta(days=1), time(), timezone.utc) \
            + timedelta(hours=12)
        return lower, upper


# -- the index a query walks -------------------------------------------------------------------------------------

class _Hinted(Alias):
    """The entry table under its own name; on SQLite ``FROM entry AS entry INDEXED BY <index>``."""

    inherit_cache = False
    index: Optional[str] = None


@compiles(_Hinted)
def _compile_hinted(element, compiler, **kw):
    return compiler.visit_alias(element, **kw)


@compiles(_Hinted, "sqlite")
def _compile_hinted_sqlite(element, compiler, **kw):
    sql = compiler.visit_alias(element, **kw)
    if not element.index or not kw.get("asfrom"):
        return sql
    return f"{sql} {element.index}" if element.index == BY_ID else f"{sql} INDEXED BY {element.index}"


BY_ID = "NOT INDEXED"  # rows by id: SQLite's rowid lookups, no index (it would rather range over a gate's dates)


class _position(FunctionElement):
    """Where ``needle`` starts in ``haystack`` (1-based; 0: absent): instr on SQLite, strpos on PostgreSQL."""

    type = Integer()
    inherit_cache = True


@compiles(_position)
def _compile_position(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(_position, "sqlite")
def _compile_position_sqlite(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


def _table(index: Optional[str]):
    table = _Hinted._construct(Entry.__table__, name="entry")
    table.index = index
    return table


@dataclass
class Plan:
    """How one filter is read: the index, walked in order or read whole, and the overrides by id."""

    flt: EntryFilter
    index: str  # the index the page query reads
    ordered: bool  # True: walked in the sort's order (stops at the page); False: the range read whole and sorted
    cost: Optional[int] = None  # index entries in the unordered range (capped at COLLECT_MAX + 1), when measured
    exclude: tuple[int, ...] = ()  # entries of the asked-for outcome a guard overrode to another
    # entries of another outcome a guard overrode to the asked-for one that match the rest of the filter, as
    # (id, decided_at, body_c): read with the overrides, merged into every page (and counted) from here
    include: tuple[tuple, ...] = ()
    correlated: bool = False  # too many overrides to list: the final outcome by a subquery per row

    def describe(self) -> str:
        how = "walk in order" if self.ordered else f"read the range ({self.cost} entries) and sort"
        extra = f", {len(self.exclude)} out / {len(self.include)} in by override" if self.exclude or self.include \
            else (", final outcome per row" if self.correlated else "")
        return f"{self.index}: {how}{extra}"


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


def _sort_index(flt: EntryFilter, by_time: bool) -> str:
    if flt.notable:
        return NOTABLE_TIME_INDEX if by_time else NOTABLE_TEMP_INDEX
    return TIME_INDEX if by_time else TEMP_INDEX


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
        session.exec(text("SET LOCAL plan_cache_mode = force_custom_plan"))
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
    return session.exec(select(func.count()).select_from(sized)).scalar_one()


def _range_terms(table, flt: EntryFilter, by_time: bool) -> list:
    """The terms an index range can serve: the decided_at window (time indexes) or the temperature band."""
    c = table.c
    if by_time:
        lower, upper = flt.window()
        return [c.decided_at >= lower, c.decided_at < upper]
    terms = []
    if flt.tmin is not None:
        terms.append(c.body_c >= flt.tmin)
    if flt.tmax is not None:
        terms.append(c.body_c <= flt.tmax)
    if not terms:
        terms.append(c.body_c.is_not(None))
    return terms


def _terms(table, p: Plan, source: str, cursor=None) -> list:
    """WHERE terms for one source of a page: ``main`` (rows with a temperature when sorted by temperature),
    ``null`` (rows without one), ``count`` (everything); the entries added by override are not among them.

    With a page ``cursor`` (in the rows with a temperature, for ``main``) the keyset's row comparison is the
    sort key's bound on the cursor's side, and the filter's own bound there is left out when the cursor is
    within it: SQLite ranges on one bound per side, and the row comparison starts the range at the cursor."""
    flt, c = p.flt, table.c
    lower, upper = flt.window()
    tmin, tmax = flt.tmin, flt.tmax
    time_low, time_high = c.decided_at >= lower, c.decided_at < upper
    not_null = source == "main" and not flt.by_time and tmin is None and tmax is None
    if cursor is not None and source == "main":
        value = cursor[0]
        if flt.by_time and flt.descending and value < upper:
            time_high = None
        elif flt.by_time and not flt.descending and value >= lower:
            time_low = None
        elif not flt.by_time and flt.descending and (tmax is None or value <= tmax):
            tmax = None
        elif not flt.by_time and not flt.descending and (tmin is None or value >= tmin):
            tmin, not_null = None, False
    where = [c.local_date >= flt.first, c.local_date <= flt.last, *(t for t in (time_low, time_high) if t is not None)]
    if flt.gate:
        where.append(c.gate_id == flt.gate)
    if flt.original:
        where.append(c.outcome == flt.original)
    if flt.outcome:
        if p.correlated:
            where.append(final_outcome(table) == flt.outcome)
        else:
            where.append(c.outcome == flt.outcome)
            if p.exclude:
                where.append(_not_among(c.id, p.exclude))
    # A code matches its legacy codes too (mask_incorrect: the older mask_below_nose rows). The plain search
    # first (cheap, and rare codes are rare), then the code between commas (fever is not fever_retest).
    if flt.reason:
        padded = literal(",") + c.reasons + literal(",")
        where.append(or_(*(and_(_position(c.reasons, literal(code)) > 0, _position(padded, literal(f",{code},")) > 0)
                           for code in family(flt.reason))))
    if flt.primary:
        codes = family(flt.primary)
        where.append(c.primary_reason == codes[0] if len(codes) == 1 else c.primary_reason.in_(codes))
    if tmin is not None:
        where.append(c.body_c >= tmin)
    if tmax is not None:
        where.append(c.body_c <= tmax)
    if p.index in (NOTABLE_TIME_INDEX, NOTABLE_TEMP_INDEX):
        where.append(text(f"({NOTABLE})"))  # implied by the filter; lets both databases use the partial index
    if source == "null":
        where.append(c.body_c.is_(None))
    elif not_null:
        where.append(c.body_c.is_not(None))
    return where


class _not_among(ColumnElement):
    """``column`` not one of ``ids``: on PostgreSQL one array parameter (``<> ALL``, hashed), on SQLite a list."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column, ids) -> None:
        self.column, self.ids = column, ids


@compiles(_not_among)
def _compile_not_among(element, compiler, **kw):
    return compiler.process(element.column.not_in(element.ids), **kw)


@compiles(_not_among, "postgresql")
def _compile_not_among_postgresql(element, compiler, **kw):
    ids = bindparam("ids", value=list(element.ids), type_=ARRAY(Integer()), unique=True)
    return f"{compiler.process(element.column, **kw)} <> ALL ({compiler.process(ids, **kw)})"


def _key_columns(table, flt: EntryFilter, source: str):
    c = table.c
    if flt.by_time:
        return (c.decided_at, c.id)
    return (c.id,) if source == "null" else (c.body_c, c.id)


def _after_terms(table, flt: EntryFilter, source: str, cursor) -> Optional[list]:
    """Keyset terms after ``cursor`` for one source; None when the cursor is past all of that source."""
    if cursor is None:
        return []
    value, ident = cursor
    in_null = not flt.by_time and value in (NO_TEMP_LOW, NO_TEMP_HIGH)
    columns = _key_columns(table, flt, source)
    if source == "main" and in_null:
        return None  # the rows with a temperature all came before
    if source == "null" and not in_null:
        return []  # the cursor is among the rows with a temperature: every row without one is still to come
    key = (ident,) if source == "null" else (value, ident)
    return [tuple_(*columns) < tuple_(*key) if flt.descending else tuple_(*columns) > tuple_(*key)]


def page_statements(p: Plan, after: Optional[str], limit: int, columns: Sequence = ()) -> list[tuple[str, object]]:
    """The page's queries by source (for ``page`` and for the bench's query plans): rows of id, decided_at (as
    the database holds it: ``moment`` reads it), body_c and ``columns`` (names of Entry columns), in order."""
    flt = p.flt
    cursor = _parse_cursor(after, flt.sort) if after else None
    sources = ["main"] if flt.by_time or flt.tmin is not None or flt.tmax is not None else ["main", "null"]
    statements = []

    def selected(table):
        return select(table.c.id, type_coerce(table.c.decided_at, String()), table.c.body_c,
                      *(table.c[name] for name in columns)).select_from(table)

    for source in sources:
        table = _table(p.index)
        after_terms = _after_terms(table, flt, source, cursor)
        if after_terms is None:
            continue
        keys = _key_columns(table, flt, source)
        order = [k.desc() if flt.descending else k.asc() for k in keys]
        statements.append((source, selected(table).where(*_terms(table, p, source, cursor), *after_terms)
                           .order_by(*order).limit(limit + 1)))
    return statements


def moment(value) -> datetime:
    """decided_at as the database returned it (text on SQLite, a datetime on PostgreSQL), aware, in UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _order_key(flt: EntryFilter):
    if flt.by_time:
        return lambda row: (moment(row[1]), row[0])
    sentinel = NO_TEMP_LOW if flt.sort == "hottest" else NO_TEMP_HIGH
    return lambda row: (row[2] if row[2] is not None else sentinel, row[0])


def _page_keys(session: Session, p: Plan, after: Optional[str], limit: int,
               columns: Sequence = ()) -> tuple[list, Optional[str]]:
    """The rows (id, decided_at, body_c, *columns) of one page in order, and the next page's cursor.

    Each source comes in order from its index; the null part follows the rows with a temperature, so only
    the few rows added by override (``Plan.include``) need a merge here."""
    flt = p.flt
    cursor = _parse_cursor(after, flt.sort) if after else None
    rows = []
    for source, statement in page_statements(p, after, limit, columns):
        if source == "null" and len(rows) > limit:
            continue  # a full page of rows with a temperature: those without one come after it
        rows += session.exec(statement).all()
    if p.include:
        key = _order_key(flt)
        added = list(p.include)
        if cursor is not None:  # the keyset, applied here to these few rows
            mark = (moment(cursor[0]), cursor[1]) if flt.by_time else cursor
            added = [r for r in added if (key(r) < mark if flt.descending else key(r) > mark)]
        rows = sorted(rows + added, key=key, reverse=flt.descending)[:limit + 1]
        missing = [r[0] for r in rows if len(r) == 3] if columns else []
        if missing:  # the added rows on this page, with the columns asked for
            table = _table(BY_ID)
            found = {r[0]: r for r in session.exec(
                select(table.c.id, type_coerce(table.c.decided_at, String()), table.c.body_c,
                       *(table.c[name] for name in columns)).select_from(table).where(table.c.id.in_(missing)))}
            rows = [found.get(r[0], r) if len(r) == 3 else r for r in rows]
    if len(rows) > limit:
        return rows[:limit], _token(rows[limit - 1], flt.sort)
    return rows, None


def page(session: Session, flt: EntryFilter, after: Optional[str], limit: int,
         planned: Optional[Plan] = None) -> tuple[list[Entry], Optional[str]]:
    """One page of matching entries and the cursor of the next page (None at the end)."""
    p = planned or plan(session, flt)
    keys, next_after = _page_keys(session, p, after, limit)
    if not keys:
        return [], next_after
    by_id = {e.id: e for e in session.exec(select(Entry).where(Entry.id.in_([k[0] for k in keys]))).scalars()}
    return [by_id[k[0]] for k in keys if k[0] in by_id], next_after


def count_statement(p: Plan, cap: Optional[int]):
    """The count of the matching entries besides those added by override (capped at ``cap`` + 1)."""
    flt = p.flt
    index = p.index
    if p.ordered and not flt.by_time and flt.tmin is None and flt.tmax is None:
        index = _sort_index(flt, True) if not p.correlated else TIME_INDEX  # the dates bound a time range
    counted = Plan(flt, index, p.ordered, p.cost, p.exclude, p.include, p.correlated)
    table = _table(index)
    matching = select(literal(1)).select_from(table).where(*_terms(table, counted, "count"))
    if cap is not None:
        matching = matching.limit(cap + 1)
    return select(func.count()).select_from(matching.subquery())


def count(session: Session, flt: EntryFilter, cap: Optional[int] = None, planned: Optional[Plan] = None) -> int:
    """Matching rows; with ``cap``, counting stops after cap + 1 (shown as "cap+"), so a year stays cheap."""
    p = planned or plan(session, flt)
    total = session.exec(count_statement(p, cap)).scalar_one() + len(p.include)
    return total if cap is None else min(total, cap + 1)


def _token(row, sort: str) -> str:
    if sort in ("newest", "oldest"):
        value = moment(row[1]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # URL-safe
    else:
        value = repr(row[2] if row[2] is not None else (NO_TEMP_LOW if sort == "hottest" else NO_TEMP_HIGH))
    return f"{value}~{row[0]}"


def cursor_token(entry: Entry, sort: str) -> str:
    return _token((entry.id, entry.decided_at, entry.body_c), sort)


ID_MAX = 2 ** 63 - 1  # the largest id either database can hold


def _parse_cursor(token: str, sort: str):
    """A page cursor as cursor_token writes it: an aware time (or a finite temperature) and an id in range."""
    try:
        value, _, ident = token.rpartition("~")
        if sort in ("newest", "oldest"):
            key = datetime.fromisoformat(value)
            if key.tzinfo is None:
                raise ValueError("no time zone")
        else:
            key = float(value)
            if not math.isfinite(key):
                raise ValueError("not a finite number")
        number = int(ident)
        if not 0 <= number <= ID_MAX:
            raise ValueError("id out of range")
        return key, number
    except ValueError as exc:
        raise FilterError("after: not a page cursor") from exc


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
    latest = select(Override.entry_uid, func.max(Override.id).label("last_id")).group_by(Override.entry_uid).subquery()
    statement = (select(Override).join(latest, latest.c.last_id == Override.id)
                 .join(Entry, Entry.uid == Override.entry_uid)
                 .where(Entry.local_date >= flt.first, Entry.local_date <= flt.last))
    if flt.gate:
        statement = statement.where(Entry.gate_id == flt.gate)
    return {o.entry_uid: o for o in session.exec(statement).scalars()}


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

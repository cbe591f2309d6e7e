"""The SQL of a visitor log query (web/filters.py describes the indexes and the plan): the entry table under the
index a query walks (INDEXED BY on SQLite), the ``Plan`` that names it, and the WHERE terms of a page or a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import ARRAY, Boolean, ColumnElement, Integer, and_, bindparam, func, literal, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Alias

from checkpoint.models import NOTABLE, Entry, Override, table_of
from checkpoint.reasons import family
from web.log_filter import EntryFilter

TIME_INDEX, TEMP_INDEX = "ix_entry_log_time", "ix_entry_log_temp"
NOTABLE_TIME_INDEX, NOTABLE_TEMP_INDEX = "ix_entry_notable_time", "ix_entry_notable_temp"


def final_outcome(table=None):
    """The entry's final outcome as SQL: its latest override's outcome, else its own (checkpoint.counts)."""
    table = Entry.__table__ if table is None else table
    latest = (select(Override.outcome).where(Override.entry_uid == table.c.uid).order_by(Override.id.desc())
              .limit(1).correlate(table).scalar_subquery())
    return func.coalesce(latest, table.c.outcome)


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
    table = _Hinted._construct(table_of(Entry), name="entry")
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


def _sort_index(flt: EntryFilter, by_time: bool) -> str:
    if flt.notable:
        return NOTABLE_TIME_INDEX if by_time else NOTABLE_TEMP_INDEX
    return TIME_INDEX if by_time else TEMP_INDEX


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

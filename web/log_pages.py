"""The visitor log's keyset pages (web/filters.py): a page is the rows after ``after``, the last row's sort key
and id (``cursor_token``), read from each source of the plan in order (rows with a temperature, then those
without one), with the few entries a guard's override added merged in.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional, Sequence, Union

from sqlalchemy import Select, String, select, tuple_, type_coerce
from sqlmodel import Session

from checkpoint.models import Entry
from web.log_filter import EntryFilter, FilterError
from web.log_sql import BY_ID, Plan, _table, _terms

NO_TEMP_HIGH, NO_TEMP_LOW = 1000.0, -1000.0  # where rows without a temperature sort (in page cursors)


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


def page_statements(p: Plan, after: Optional[str], limit: int, columns: Sequence = ()) -> list[tuple[str, Select]]:
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
    rows: list[Any] = []  # (id, decided_at, body_c, *columns) rows, and Plan.include's tuples
    for source, statement in page_statements(p, after, limit, columns):
        if source == "null" and len(rows) > limit:
            continue  # a full page of rows with a temperature: those without one come after it
        # execute, here and below: Session.exec runs a SQLAlchemy select the same way, but its types take
        # SQLModel's select only
        rows += session.execute(statement).all()
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
            found = {r[0]: r for r in session.execute(
                select(table.c.id, type_coerce(table.c.decided_at, String()), table.c.body_c,
                       *(table.c[name] for name in columns)).select_from(table).where(table.c.id.in_(missing)))}
            rows = [found.get(r[0], r) if len(r) == 3 else r for r in rows]
    if len(rows) > limit:
        return rows[:limit], _token(rows[limit - 1], flt.sort)
    return rows, None


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
        key: Union[datetime, float]
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

"""The visitor log's filter, sort and keyset pagination, shared by the log, the CSV export and the API.

Local dates filter on ``Entry.local_date``. For the time sorts a UTC window
on ``decided_at`` wide enough for any time zone (UTC-12 to UTC+14) is added so
the decided_at index serves both the range and the sort, which keeps the
first page fast on a million rows; counts use the local_date indexes. Pages
are keyset (``after`` = the last row's sort key).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping, Optional

from sqlalchemy import and_, func, literal, or_
from sqlmodel import Session, select

from checkpoint.models import OUTCOMES, Entry, Override
from checkpoint.reasons import family

SORTS = ("newest", "oldest", "hottest", "coolest")
CODE = re.compile(r"[a-z0-9_]{1,32}")
GATE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NO_TEMP_HIGH, NO_TEMP_LOW = 1000.0, -1000.0  # where rows without a temperature sort


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
        return float(text)
    except ValueError as exc:
        raise FilterError(f"{name}: expected a number") from exc


def final_outcome():
    """The entry's final outcome as SQL: its latest override's outcome, else its own (checkpoint.counts)."""
    latest = (select(Override.outcome).where(Override.entry_uid == Entry.uid).order_by(Override.id.desc())
              .limit(1).correlate(Entry).scalar_subquery())
    return func.coalesce(latest, Entry.outcome)


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

    def conditions(self, time_order: bool = False) -> list:
        """WHERE terms. With ``time_order`` they steer the planner onto the decided_at index, which serves the
        sort: a UTC window wide enough for any zone is added, and gate/outcome equalities are written so they
        are not index terms (else SQLite would pick the (gate, date) index and sort every row of the gate)."""
        where = [Entry.local_date >= self.first, Entry.local_date <= self.last]
        if time_order:
            lower = datetime.combine(date.fromisoformat(self.first), time(), timezone.utc) - timedelta(hours=14)
            upper = datetime.combine(date.fromisoformat(self.last) + timedelta(days=1), time(), timezone.utc) \
                + timedelta(hours=12)
            where += [Entry.decided_at >= lower, Entry.decided_at < upper]
        for column, value in ((Entry.gate_id, self.gate), (Entry.outcome, self.original)):
            if value:
                where.append(((column + literal("")) if time_order else column) == value)
        if self.outcome:  # the final outcome: an entry a guard turned into a denial is a denial
            where.append(final_outcome() == self.outcome)
        # A code matches its legacy codes too (mask_incorrect: the older mask_below_nose rows).
        if self.reason:
            padded = literal(",") + Entry.reasons + literal(",")
            escaped = [code.replace("_", "\\_") for code in family(self.reason)]
            where.append(or_(*(padded.like(f"%,{code},%", escape="\\") for code in escaped)))
        if self.primary:
            codes = family(self.primary)
            where.append(Entry.primary_reason == codes[0] if len(codes) == 1 else Entry.primary_reason.in_(codes))
        if self.tmin is not None:
            where.append(Entry.body_c >= self.tmin)
        if self.tmax is not None:
            where.append(Entry.body_c <= self.tmax)
        return where


def _sort_key(sort: str):
    if sort in ("newest", "oldest"):
        return Entry.decided_at
    return func.coalesce(Entry.body_c, NO_TEMP_LOW if sort == "hottest" else NO_TEMP_HIGH)


def _descending(sort: str) -> bool:
    return sort in ("newest", "hottest")


def cursor_token(entry: Entry, sort: str) -> str:
    if sort in ("newest", "oldest"):
        value = entry.decided_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # URL-safe
    else:
        value = repr(entry.body_c if entry.body_c is not None else (NO_TEMP_LOW if sort == "hottest" else NO_TEMP_HIGH))
    return f"{value}~{entry.id}"


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


def page(session: Session, flt: EntryFilter, after: Optional[str], limit: int) -> tuple[list[Entry], Optional[str]]:
    """One page of matching entries and the cursor of the next page (None at the end)."""
    key = _sort_key(flt.sort)
    statement = select(Entry).where(*flt.conditions(time_order=flt.sort in ("newest", "oldest")))
    if after:
        value, ident = _parse_cursor(after, flt.sort)
        if _descending(flt.sort):
            statement = statement.where(key <= value, or_(key < value, and_(key == value, Entry.id < ident)))
        else:
            statement = statement.where(key >= value, or_(key > value, and_(key == value, Entry.id > ident)))
    order = (key.desc(), Entry.id.desc()) if _descending(flt.sort) else (key.asc(), Entry.id.asc())
    rows = list(session.exec(statement.order_by(*order).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], cursor_token(rows[limit - 1], flt.sort)
    return rows, None


def count(session: Session, flt: EntryFilter, cap: Optional[int] = None) -> int:
    """Matching rows; with ``cap``, counting stops after cap + 1 (shown as "cap+"), so a year stays cheap."""
    if cap is None:
        return session.exec(select(func.count()).select_from(Entry).where(*flt.conditions())).one()
    matching = select(Entry.id).where(*flt.conditions()).limit(cap + 1).subquery()
    return session.exec(select(func.count()).select_from(matching)).one()


def iterate(session: Session, flt: EntryFilter, chunk: int = 1000) -> Iterator[list[Entry]]:
    """Every matching entry, in sort order, one keyset chunk at a time."""
    after = None
    while True:
        rows, after = page(session, flt, after, chunk)
        if rows:
            yield rows
        if after is None:
            return

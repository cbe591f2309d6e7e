"""The visitor log's filter as a query string gives it (the log, the CSV export and the API): ``EntryFilter``.

Parsing and checking the parameters only; how a filter is read is web/filters.py (the plan), web/log_sql.py
(the index and the WHERE terms) and web/log_pages.py (the keyset pages).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping, Optional

from checkpoint.models import ALLOWED, OUTCOMES

SORTS = ("newest", "oldest", "hottest", "coolest")
CODE = re.compile(r"[a-z0-9_]{1,32}")
GATE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class FilterError(ValueError):
    pass


EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # keeps the UTC window arithmetic in range


DAY_MONTH_YEAR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")  # how Indonesia writes a date: 03/12/2026


def parse_day(text: str, name: str) -> date:
    """A local date from a form or query, within the years the log can hold: YYYY-MM-DD, or DD/MM/YYYY
    as the Indonesian pages show their date boxes."""
    text = text.strip()
    try:
        written = DAY_MONTH_YEAR.fullmatch(text)
        day = date(int(written[3]), int(written[2]), int(written[1])) if written else date.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(f"{name}: expected a date YYYY-MM-DD or DD/MM/YYYY") from exc
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

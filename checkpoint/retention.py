"""How long entries are kept: ``[privacy] entry_retention_days``.

Temperatures are health data (personal data under Indonesia's UU PDP, Law
27/2022), so a gate may keep its entries for a limited time only. A local day
(in the gate's time zone) more than ``entry_retention_days`` days before today
goes whole: its entries, the guards' overrides of them, and its exits are
deleted, and in the same transaction the day's counts (checkpoint.counts, final
outcomes after overrides) are added to ``daily_count``, which the reports read
for that day from then on. Nothing else of the day is kept.

With a central database configured, a day goes only once every row of it has
been forwarded (the central log keeps its own copy, under its own retention);
until then it is tried again the next day.

The agent's recorder (the one writer of the log) runs ``purge_entries`` in its
own thread, daily and on demand; ``checkpoint purge`` runs it directly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from checkpoint.counts import daily_counts
from checkpoint.models import DailyCount, Entry, Exit, Override

log = logging.getLogger(__name__)
CHUNK = 500  # uids per IN (...) list


@dataclass
class PurgeResult:
    cutoff: str = ""  # days before this one were purged
    days: list[str] = field(default_factory=list)
    entries: int = 0
    overrides: int = 0
    exits: int = 0
    waiting: list[str] = field(default_factory=list)  # days kept because rows are not forwarded yet

    def __str__(self) -> str:
        text = (f"removed {self.entries} entries, {self.overrides} overrides and {self.exits} exits of "
                f"{len(self.days)} days before {self.cutoff} (their daily counts kept)")
        if self.waiting:
            text += f"; {len(self.waiting)} days wait for forwarding to the central database"
        return text


def cutoff_day(today: date, retention_days: int) -> str:
    """The first local day kept: today and the ``retention_days`` days before it stay."""
    return (today - timedelta(days=retention_days)).isoformat()


def purge_entries(engine: Engine, gate_id: str, retention_days: int, today: date, *,
                  forwarded_only: bool = False, now: Optional[datetime] = None) -> PurgeResult:
    """Delete ``gate_id``'s entries, overrides and exits of local days before
    ``today - retention_days``, keeping each day's counts in ``daily_count``.
    One transaction per day. ``retention_days`` 0 or less does nothing."""
    result = PurgeResult(cutoff=cutoff_day(today, retention_days))
    if retention_days <= 0:
        return result
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session:
        # execute: Session.exec runs a SQLAlchemy select the same way, but its types take SQLModel's select only
        days = set(session.execute(select(col(Entry.local_date)).where(
            col(Entry.gate_id) == gate_id, col(Entry.local_date) < result.cutoff).distinct()).scalars())
        days |= set(session.execute(select(col(Exit.local_date)).where(
            col(Exit.gate_id) == gate_id, col(Exit.local_date) < result.cutoff).distinct()).scalars())
    for day in sorted(days):
        with Session(engine) as session:
            if forwarded_only and not _all_forwarded(session, gate_id, day):
                result.waiting.append(day)
                continue
            entries, overrides, exits = _purge_day(session, gate_id, day, now)
            session.commit()
        result.days.append(day)
        result.entries += entries
        result.overrides += overrides
        result.exits += exits
    if result.days:
        log.info("entry retention (%d days): %s", retention_days, result)
    return result


def _all_forwarded(session: Session, gate_id: str, day: str) -> bool:
    uids = select(col(Entry.uid)).where(col(Entry.gate_id) == gate_id, col(Entry.local_date) == day)
    for statement in (
        select(func.count()).select_from(Entry).where(col(Entry.gate_id) == gate_id, col(Entry.local_date) == day,
                                                      col(Entry.forwarded_at).is_(None)),
        select(func.count()).select_from(Exit).where(col(Exit.gate_id) == gate_id, col(Exit.local_date) == day,
                                                     col(Exit.forwarded_at).is_(None)),
        select(func.count()).select_from(Override).where(col(Override.entry_uid).in_(uids),
                                                         col(Override.forwarded_at).is_(None)),
    ):
        if session.execute(statement).one()[0]:
            return False
    return True


def _purge_day(session: Session, gate_id: str, day: str, now: datetime) -> tuple[int, int, int]:
    counts = daily_counts(session, day, gate_id, archived=False)
    uids = list(session.execute(select(col(Entry.uid)).where(col(Entry.gate_id) == gate_id,
                                                              col(Entry.local_date) == day)).scalars())
    row = session.get(DailyCount, (gate_id, day))
    if row is None:
        row = DailyCount(gate_id=gate_id, day=day, hourly=json.dumps([0] * 24), archived_at=now)
        session.add(row)
    add_counts(row, counts)
    row.entries_deleted += len(uids)
    row.archived_at = now
    overrides = 0
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start:start + CHUNK]
        overrides += session.exec(delete(Override).where(col(Override.entry_uid).in_(chunk))).rowcount or 0
    entries = session.exec(delete(Entry).where(col(Entry.gate_id) == gate_id,
                                               col(Entry.local_date) == day)).rowcount or 0
    exits = session.exec(delete(Exit).where(col(Exit.gate_id) == gate_id, col(Exit.local_date) == day)).rowcount or 0
    return entries, overrides, exits


def add_counts(row: DailyCount, counts) -> None:
    """Add a day's DailyCounts into its archive row."""
    for name in ("allowed", "denied", "remeasure", "flagged", "overridden", "exits"):
        setattr(row, name, (getattr(row, name) or 0) + getattr(counts, name))
    reasons = json.loads(row.denied_by_reason or "{}")
    for code, n in counts.denied_by_reason.items():
        reasons[code] = reasons.get(code, 0) + n
    row.denied_by_reason = json.dumps(reasons, sort_keys=True)
    hourly = json.loads(row.hourly or "[]") or [0] * 24
    row.hourly = json.dumps([a + b for a, b in zip(hourly, counts.hourly)])


def strip_measurements(entry: Entry) -> Entry:
    """Outcome only (``[privacy] store_temperatures = false``): no temperature, no mask probability."""
    entry.body_c = entry.object_c = entry.ambient_c = None
    entry.mask_confidence = None
    return entry


class RetentionJob:
    """The recorder's daily purge: due at its first chance and whenever the
    gate's local date has changed since the last run; a failed run (the
    database locked or down) is tried again after ``retry_s``."""

    def __init__(self, gate_id: str, zone, retention_days: int, *, forwarded_only: bool = False,
                 retry_s: float = 300.0) -> None:
        self.gate_id = gate_id
        self.zone = zone
        self.retention_days = retention_days
        self.forwarded_only = forwarded_only
        self.retry_s = retry_s
        self.last_day: Optional[str] = None
        self.retry_at = 0.0
        self.last_result: Optional[PurgeResult] = None

    def today(self, now: float) -> date:
        return datetime.fromtimestamp(now, tz=self.zone).date()

    def due(self, now: float) -> bool:
        return self.today(now).isoformat() != self.last_day and now >= self.retry_at

    def seconds_until_due(self, now: float) -> float:
        """How long the writer may sleep before this job is due (at most a minute: the clock may jump)."""
        if self.due(now):
            return 0.0
        local = datetime.fromtimestamp(now, tz=self.zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=self.zone)
        wait = midnight.timestamp() - now if self.today(now).isoformat() == self.last_day else self.retry_at - now
        return min(max(wait, 0.05), 60.0)

    def run(self, engine: Engine, now: float) -> PurgeResult:
        today = self.today(now)
        try:
            result = purge_entries(engine, self.gate_id, self.retention_days, today,
                                   forwarded_only=self.forwarded_only,
                                   now=datetime.fromtimestamp(now, tz=timezone.utc))
        except Exception:
            self.retry_at = now + self.retry_s
            raise
        self.last_day = today.isoformat()
        self.retry_at = 0.0
        self.last_result = result
        return result

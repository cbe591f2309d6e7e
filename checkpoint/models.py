"""The entry log's tables (SQLModel). The same schema serves SQLite and PostgreSQL.

Times are timezone-aware UTC datetimes (SQLModel stores them as UTC); ``local_date`` and ``local_hour`` are
the gate's local calendar day and hour at decision time, stored so daily
counts are index lookups rather than time-zone arithmetic in SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Index, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

ALLOWED = "allowed"
DENIED = "denied"
REMEASURE = "remeasure"
OUTCOMES = (ALLOWED, DENIED, REMEASURE)


def new_uid() -> str:
    return uuid.uuid4().hex


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table (``Entry.__table__``)."""
    return model.__table__  # type: ignore[attr-defined]  # set by SQLModel on table=True classes, not in its types


# Entries that are not plainly allowed: another outcome, a reason or a flag (the partial log indexes' condition;
# queries repeat it word for word so both databases use those indexes).
NOTABLE = "outcome <> 'allowed' OR reasons <> '' OR primary_reason <> ''"
_LOG_COLUMNS = ("local_date", "gate_id", "outcome", "primary_reason")
LOG_INDEXES = (  # (name, columns, partial: on NOTABLE rows only); migration 0006
    ("ix_entry_log_time", ("decided_at", "id", *_LOG_COLUMNS, "body_c"), False),
    ("ix_entry_log_temp", ("body_c", "id", "decided_at", *_LOG_COLUMNS), False),
    ("ix_entry_notable_time", ("decided_at", "id", *_LOG_COLUMNS, "body_c", "reasons"), True),
    ("ix_entry_notable_temp", ("body_c", "id", "decided_at", *_LOG_COLUMNS, "reasons"), True),
)


def _where_notable(partial: bool) -> dict[str, Any]:
    """A log index's dialect options: on NOTABLE rows only when it is partial."""
    return dict(sqlite_where=text(NOTABLE), postgresql_where=text(NOTABLE)) if partial else {}


class Entry(SQLModel, table=True):
    """One decision at a gate: the permanent, auditable record of a visit."""

    __tablename__ = "entry"
    __table_args__ = (
        UniqueConstraint("uid", name="uq_entry_uid"),
        Index("ix_entry_gate_date", "gate_id", "local_date"),
        Index("ix_entry_decided_at", "decided_at"),
        # covers the daily counts: one index-only pass per range of days, already in GROUP BY order
        Index("ix_entry_counts", "local_date", "outcome", "primary_reason", "local_hour", "flagged", "gate_id"),
        Index("ix_entry_forward", "forwarded_at", "id"),
        # the visitor log (web/filters.py): one covering index per sort key (time, temperature), each filter column
        # in it, so a filter over any range is an index-only walk; the same two over the notable entries only
        # (not plainly allowed: ~10 %), which reason, primary and outcome filters other than allowed walk
        *(Index(name, *columns, **_where_notable(partial)) for name, columns, partial in LOG_INDEXES),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, max_length=32, description="Stable id across databases.")
    gate_id: str = Field(max_length=64)
    decided_at: datetime  # UTC
    local_date: str = Field(max_length=10)  # YYYY-MM-DD in the gate's time zone
    local_hour: int
    outcome: str = Field(max_length=16)
    flagged: bool = False
    reasons: str = Field(default="", max_length=255, description="Reason codes, comma separated, most important first.")
    primary_reason: str = Field(default="", max_length=32)
    body_c: Optional[float] = None
    object_c: Optional[float] = None
    ambient_c: Optional[float] = None
    calibration: str = Field(default="none", max_length=16)
    offset_c: float = 0.0
    sensor_id: str = Field(default="", max_length=64)
    readings: int = 0
    mask_class: Optional[str] = Field(default=None, max_length=32)
    mask_confidence: Optional[float] = None
    face_seen: bool = False
    visit_started_at: Optional[datetime] = None
    rules: str = Field(default="{}", description="JSON of the rule modes and thresholds in force.")
    face_image: Optional[str] = Field(default=None, max_length=255)
    door: Optional[str] = Field(default=None, max_length=16, description="What the decision told the door: open or "
                                "locked (checkpoint.door); NULL where no door is driven. The relay's answer is in "
                                "health and the agent's log.")
    forwarded_at: Optional[datetime] = None  # store-and-forward: set once the central log has it


class Override(SQLModel, table=True):
    """A guard's override, kept beside the original decision, never instead of it."""

    __tablename__ = "override"
    __table_args__ = (UniqueConstraint("uid", name="uq_override_uid"), Index("ix_override_entry", "entry_uid"))

    id: Optional[int] = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, max_length=32)
    entry_uid: str = Field(max_length=32)
    gate_id: str = Field(max_length=64)
    at: datetime  # UTC
    by_user: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    forwarded_at: Optional[datetime] = None


class Exit(SQLModel, table=True):
    """A person leaving, for occupancy (entries allowed minus exits)."""

    __tablename__ = "exit"
    __table_args__ = (
        UniqueConstraint("uid", name="uq_exit_uid"),
        Index("ix_exit_gate_date", "gate_id", "local_date"),
        Index("ix_exit_forward", "forwarded_at", "id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    uid: str = Field(default_factory=new_uid, max_length=32)
    gate_id: str = Field(max_length=64)
    at: datetime  # UTC
    local_date: str = Field(max_length=10)
    source: str = Field(default="guard", max_length=32)
    by_user: Optional[str] = Field(default=None, max_length=64)
    forwarded_at: Optional[datetime] = None


class GateStatus(SQLModel, table=True):
    """Each agent's heartbeat: component health and store-and-forward backlog."""

    __tablename__ = "gate_status"

    gate_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=128)
    timezone: str = Field(default="Asia/Jakarta", max_length=64)
    updated_at: datetime  # UTC
    started_at: Optional[datetime] = None
    components: str = Field(default="{}", description="JSON: component name -> health snapshot.")
    backlog: int = 0
    capacity: int = 0
    capacity_scope: str = Field(default="gate", max_length=16, sa_column_kwargs={"server_default": "gate"},
                                description="gate: the limit counts this gate's visitors; building: all gates'.")


class User(SQLModel, table=True):
    """A person who signs in to the web app."""

    __tablename__ = "app_user"

    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)  # guard, manager, admin
    language: Optional[str] = Field(default=None, max_length=8)
    active: bool = True
    created_at: datetime
    session_generation: int = Field(
        default=0, sa_column_kwargs={"server_default": "0"},
        description="Sessions carry the generation they were opened in and end when it changes: sign-out, "
                    "disable, a new password or role, `checkpoint user unlock`.")


class EventCursor(SQLModel, table=True):
    """Events out (checkpoint/events_out): the last row id of a log table each sink has delivered."""

    __tablename__ = "event_cursor"

    gate_id: str = Field(primary_key=True, max_length=64)
    sink: str = Field(primary_key=True, max_length=32, description="mqtt or webhook.")
    source: str = Field(primary_key=True, max_length=16, description="The table: entry, exit or override.")
    last_id: int = 0
    last_uid: Optional[str] = Field(default=None, max_length=32, description="The uid of the row at last_id: "
                                    "when it is gone, the log's ids went back (a retention purge, another file).")
    last_at: Optional[datetime] = None  # UTC: that row's time (decided_at, at), where to read again from then
    updated_at: datetime  # UTC


class DailyCount(SQLModel, table=True):
    """The counts of a gate's local day whose entries were deleted by ``[privacy] entry_retention_days``
    (checkpoint/retention.py): what checkpoint.counts reports for that day from then on. No temperatures,
    no reasons beyond the denial counts, no person: only numbers."""

    __tablename__ = "daily_count"

    gate_id: str = Field(primary_key=True, max_length=64)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD in the gate's time zone
    allowed: int = 0  # final outcomes, as counts.DailyCounts
    denied: int = 0
    remeasure: int = 0
    flagged: int = 0
    overridden: int = 0
    exits: int = 0
    denied_by_reason: str = Field(default="{}", description="JSON: reason code -> final denials.")
    hourly: str = Field(default="[]", description="JSON: 24 visitor counts, one per local hour.")
    entries_deleted: int = 0  # entries purged into this row (an audit of the purge)
    archived_at: datetime  # UTC, the latest purge that added to this row

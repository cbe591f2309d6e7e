"""People inside now (checkpoint/counts.py, "Definitions"): today's allowed entries, after the guards' overrides,
minus today's exits."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func, select
from sqlmodel import Session, col

from checkpoint.models import ALLOWED, Entry, Exit, Override
from checkpoint.tally import _gate_filter, latest_override_ids


def override_delta(session: Session, day: str, gate_id: Optional[str] = None) -> int:
    """How overrides change today's allowed entries: +1 for each entry a guard
    let in after all, -1 for each allowed one turned back (the latest override
    of an entry counts)."""
    latest_override = latest_override_ids()
    changes = session.exec(
        _gate_filter(
            select(col(Entry.outcome), col(Override.outcome))
            .join(latest_override, latest_override.c.entry_uid == Entry.uid)
            .join(Override, col(Override.id) == latest_override.c.last_id)
            .where(col(Entry.local_date) == day),
            Entry.gate_id, gate_id,
        )
    ).all()
    return sum((final == ALLOWED) - (original == ALLOWED) for original, final in changes)


def occupancy(session: Session, day: str, gate_id: Optional[str] = None) -> int:
    """People inside now: today's allowed entries (after overrides) minus today's exits."""
    allowed = session.exec(
        _gate_filter(select(func.count()).select_from(Entry).where(col(Entry.local_date) == day,
                                                                   col(Entry.outcome) == ALLOWED),
                     Entry.gate_id, gate_id)
    ).one()[0]
    allowed += override_delta(session, day, gate_id)
    exits = session.exec(
        _gate_filter(select(func.count()).select_from(Exit).where(col(Exit.local_date) == day), Exit.gate_id, gate_id)
    ).one()[0]
    return max(allowed - exits, 0)

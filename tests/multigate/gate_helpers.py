"""Helpers for the multi-gate tests: entries, exits, waits, URLs through a proxy.

A module of its own (not conftest) so `from gate_helpers import ...` means this file
whichever test folders pytest collects first."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from checkpoint.entries import local_date_hour
from checkpoint.models import Entry, Exit

JAKARTA = ZoneInfo("Asia/Jakarta")


def make_entry(gate_id: str, n: int, t: float | None = None) -> Entry:
    t = time.time() if t is None else t
    day, hour = local_date_hour(t, JAKARTA)
    return Entry(gate_id=gate_id, decided_at=datetime.fromtimestamp(t, tz=timezone.utc), local_date=day,
                 local_hour=hour, outcome="allowed" if n % 5 else "denied", primary_reason="" if n % 5 else "fever",
                 reasons="" if n % 5 else "fever", body_c=36.5 + (n % 10) / 10, sensor_id=f"n{n}")


def make_exit(gate_id: str, t: float | None = None) -> Exit:
    t = time.time() if t is None else t
    day, _ = local_date_hour(t, JAKARTA)
    return Exit(gate_id=gate_id, at=datetime.fromtimestamp(t, tz=timezone.utc), local_date=day, source="sensor")


def pg_port(url: str) -> int:
    return make_url(url).port or 5432


def via_port(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

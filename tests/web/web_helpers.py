"""Helpers shared by the web tests: entries as the recorder writes them, CSRF tokens, screenshots."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session
from werkzeug.serving import make_server

from checkpoint.models import Entry

ZONE = ZoneInfo("Asia/Jakarta")
PASSWORD = "correct-horse-1"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def make_entry(decided_at: datetime | None = None, **fields) -> Entry:
    """An Entry as the recorder writes it, local date and hour in Asia/Jakarta."""
    decided_at = decided_at or datetime.now(timezone.utc)
    local = decided_at.astimezone(ZONE)
    values = dict(gate_id="gate-1", decided_at=decided_at, local_date=local.date().isoformat(), local_hour=local.hour,
                  outcome="allowed", reasons="", primary_reason="", body_c=36.5, mask_class="mask",
                  mask_confidence=0.95, face_seen=True, readings=1, calibration="offset")
    values.update(fields)
    if "reasons" in fields and "primary_reason" not in fields:
        values["primary_reason"] = fields["reasons"].split(",")[0]
    return Entry(**values)


def store(engine, *rows):
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
    return rows


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def screenshot(page, name: str, sizes=((1920, 1080), (1280, 800))) -> list[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width, height in sizes:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)  # let layout settle after the resize
        path = ARTIFACTS / f"{name}_{width}x{height}.png"
        page.screenshot(path=str(path))
        paths.append(path)
    return paths


def hours_ago(hours: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=hours)


def earlier_today(hours: float, span_h: float = 6.0) -> datetime:
    """``hours`` before now on today's local date: when the local day is younger than ``span_h``
    (tests run just after midnight in Jakarta, 17:00 UTC), the span is squeezed into it."""
    now = datetime.now(timezone.utc)
    midnight = now.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    available_h = max((now - midnight).total_seconds() - 1.0, 0.0) / 3600
    return now - timedelta(hours=hours * min(1.0, available_h / span_h))


def store_status(engine, status) -> None:
    """Write a gate's heartbeat row as the recorder does (insert or replace)."""
    with Session(engine) as session:
        session.merge(status)
        session.commit()


class LiveServer:
    def __init__(self, app) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def stop(self) -> None:
        self.app.extensions["checkpoint"].broker.close()  # ends open event streams
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

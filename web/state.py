"""Per-app state: settings, the one database engine, the event broker, the login limiter.

The engine is opened once per app (checkpoint.db migrates it) and each request
borrows one Session from it, closed at the end of the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from checkpoint.config import Settings
from checkpoint.models import GateStatus


class AppState:
    def __init__(self, settings: Settings, engine: Engine, broker, limiter, gate: Optional[str]) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = broker
        self.limiter = limiter
        self.gate = gate  # None: the app shows all gates

    def close(self) -> None:
        self.broker.close()
        self.engine.dispose()


def state() -> AppState:
    return current_app.extensions["checkpoint"]


def db() -> Session:
    """The request's Session (opened on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = Session(state().engine, expire_on_commit=False)
    return g.db_session


def close_session(_exc: Optional[BaseException] = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def today(gate_id: Optional[str] = None) -> str:
    """Today's local date at ``gate_id`` (its own time zone), or in the app's zone for all gates."""
    return datetime.now(zone_for(gate_id)).date().isoformat()


def gate_zones() -> dict[str, ZoneInfo]:
    """Each known gate's time zone (from its heartbeat row), cached per request."""
    if "gate_zones" not in g:
        zones = {}
        try:
            rows = db().exec(select(GateStatus.gate_id, GateStatus.timezone)).all()
        except SQLAlchemyError:  # the log is out of reach: the app's own zone (the live screen says why)
            db().rollback()
            rows = []
        for gate_id, name in rows:
            try:
                zones[gate_id] = ZoneInfo(name)
            except (KeyError, ValueError):
                continue
        g.gate_zones = zones
    return g.gate_zones


def zone_for(gate_id: Optional[str]) -> ZoneInfo:
    return gate_zones().get(gate_id or "", state().settings.zone)


def local_time(moment: Optional[datetime], gate_id: Optional[str] = None, fmt: str = "%H:%M:%S") -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone_for(gate_id)).strftime(fmt)


def selected_gate(requested: Optional[str]) -> Optional[str]:
    """The app's fixed gate if configured, else the one asked for (empty: all)."""
    return state().gate or (requested or None)

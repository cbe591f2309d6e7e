"""Health of the gates (from each agent's GateStatus heartbeat) and of the database; the /healthz endpoint.

/healthz needs no login and carries no personal data: component states,
messages, ages and counters only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Optional

from flask import Blueprint, current_app, jsonify
from sqlalchemy import literal
from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from checkpoint.models import GateStatus
from web.state import state

bp = Blueprint("health", __name__)


@dataclass
class ComponentView:
    name: str
    state: str
    message: str
    last_ok_age_s: Optional[float]
    counters: dict


@dataclass
class GateHealth:
    gate_id: str
    name: str
    timezone: str
    age_s: float
    silent: bool
    backlog: int
    capacity: int
    components: list[ComponentView] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.silent:
            return "down"
        states = {c.state for c in self.components}
        for worst in ("down", "degraded", "unknown"):
            if worst in states:
                return worst
        return "ok"


def gate_health(session: Session, silent_after_s: float, gate: Optional[str] = None,
                now: Optional[float] = None) -> list[GateHealth]:
    now = time.time() if now is None else now
    statement = select(GateStatus).order_by(GateStatus.gate_id)
    if gate:
        statement = statement.where(GateStatus.gate_id == gate)
    gates = []
    for status in session.exec(statement):
        updated = status.updated_at if status.updated_at.tzinfo else status.updated_at.replace(tzinfo=timezone.utc)
        age = max(now - updated.timestamp(), 0.0)
        try:
            raw = json.loads(status.components or "{}")
        except ValueError:
            raw = {}
        components = []
        for name, snapshot in sorted(raw.items()):
            if not isinstance(snapshot, dict):
                continue
            ok_age = snapshot.get("last_ok_age_s")
            components.append(ComponentView(
                name=name, state=str(snapshot.get("state", "unknown")), message=str(snapshot.get("message") or ""),
                # the snapshot's age was measured when the heartbeat was written
                last_ok_age_s=round(ok_age + age, 1) if isinstance(ok_age, (int, float)) else None,
                counters={k: v for k, v in (snapshot.get("counters") or {}).items() if isinstance(v, int)},
            ))
        gates.append(GateHealth(status.gate_id, status.name, status.timezone, round(age, 1),
                                age > silent_after_s, status.backlog, status.capacity, components))
    return gates


def database_ok(engine) -> tuple[bool, str]:
    try:
        with engine.connect() as connection:
            connection.execute(sa_select(literal(1))).one()
        return True, ""
    except SQLAlchemyError as exc:
        return False, str(exc).splitlines()[0][:200]


def health_document(gate: Optional[str] = None) -> tuple[dict, bool]:
    app_state = state()
    reachable, problem = database_ok(app_state.engine)
    document = {"database": {"state": "ok" if reachable else "down", "message": problem}, "gates": []}
    if reachable:
        with Session(app_state.engine) as session:
            gates = gate_health(session, current_app.config["SILENT_AFTER_S"], gate)
        document["gates"] = [{
            "gate_id": g.gate_id, "name": g.name, "state": g.state, "silent": g.silent, "age_s": g.age_s,
            "backlog": g.backlog,
            "components": {c.name: {"state": c.state, "message": c.message, "last_ok_age_s": c.last_ok_age_s,
                                    "counters": c.counters} for c in g.components},
        } for g in gates]
    states = [document["database"]["state"]] + [g["state"] for g in document["gates"]]
    document["status"] = "down" if "down" in states[:1] else ("degraded" if any(s != "ok" for s in states) else "ok")
    return document, reachable


@bp.route("/healthz")
def healthz():
    document, reachable = health_document(state().gate)
    response = jsonify(document)
    response.status_code = 200 if reachable else 503
    response.headers["Cache-Control"] = "no-store"
    return response

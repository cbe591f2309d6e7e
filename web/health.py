"""Health of the gates (from each agent's GateStatus heartbeat) and of the database; the /healthz endpoint.

/healthz needs no login and carries no personal data: component states,
messages, ages and counters only.

A heartbeat row is written through the database it reports on, so when that
database is locked, full or gone the newest row is stale. An agent on this
machine also keeps its own view in ``<data_dir>/status-<gate>.json``
(checkpoint.health.StatusFile); a newer file wins over the row, and when that
agent cannot write to the database this app reads, ``database`` is down here
too, with the agent's reason.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Optional

from flask import Blueprint, current_app, g, has_app_context, jsonify
from sqlalchemy import literal
from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from checkpoint.health import read_status_files
from checkpoint.models import GateStatus
from web.state import state

bp = Blueprint("health", __name__)

# A gate with one of these down makes no decision the screens can show (the scanner or camera cannot measure, or
# its decisions cannot reach the log); a silent gate is closed too.
DECISION_COMPONENTS = ("scanner", "camera", "database")


@dataclass
class ComponentView:
    name: str
    state: str
    message: str
    last_ok_age_s: Optional[float]
    counters: dict
    simulated: bool = False  # a software stand-in the agent runs with --simulate


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

    @property
    def stopped(self) -> list[str]:
        """Why this gate makes no decisions now: ["silent"], or the DECISION_COMPONENTS that are down; [] if none."""
        if self.silent:
            return ["silent"]
        return [c.name for c in self.components if c.name in DECISION_COMPONENTS and c.state == "down"]

    @property
    def simulated(self) -> list[str]:
        """The components this gate runs simulated (checkpoint run --simulate); [] for a real gate."""
        return [c.name for c in self.components if c.simulated]


def local_statuses() -> list[dict]:
    """The status files of the agents writing into this app's data directory."""
    if not has_app_context():
        return []
    return read_status_files(state().settings.data_path)


def gate_health(session: Optional[Session], silent_after_s: float, gate: Optional[str] = None,
                now: Optional[float] = None, local: Optional[list[dict]] = None) -> list[GateHealth]:
    """Each gate's health from its newest heartbeat: the row in the database,
    or the status file of an agent on this machine when that is newer
    (``local``: those files; read here when None; ``session`` None: files only)."""
    now = time.time() if now is None else now
    latest: dict[str, dict] = {}
    if session is not None:
        statement = select(GateStatus).order_by(GateStatus.gate_id)
        if gate:
            statement = statement.where(GateStatus.gate_id == gate)
        for status in session.exec(statement):
            updated = status.updated_at if status.updated_at.tzinfo else status.updated_at.replace(tzinfo=timezone.utc)
            try:
                raw = json.loads(status.components or "{}")
            except ValueError:
                raw = {}
            latest[status.gate_id] = {"name": status.name, "timezone": status.timezone,
                                      "updated_at": updated.timestamp(), "components": raw,
                                      "backlog": status.backlog, "capacity": status.capacity}
    for document in local_statuses() if local is None else local:
        gate_id = document["gate_id"]
        if gate and gate_id != gate:
            continue
        if gate_id not in latest or document["updated_at"] >= latest[gate_id]["updated_at"]:
            latest[gate_id] = document
    return [_gate_view(gate_id, latest[gate_id], now, silent_after_s) for gate_id in sorted(latest)]


def _gate_view(gate_id: str, status: dict, now: float, silent_after_s: float) -> GateHealth:
    age = max(now - float(status["updated_at"]), 0.0)
    raw = status.get("components")
    components = []
    for name, snapshot in sorted((raw if isinstance(raw, dict) else {}).items()):
        if not isinstance(snapshot, dict):
            continue
        ok_age = snapshot.get("last_ok_age_s")
        components.append(ComponentView(
            name=name, state=str(snapshot.get("state", "unknown")), message=str(snapshot.get("message") or ""),
            # the snapshot's age was measured when the heartbeat was written
            last_ok_age_s=round(ok_age + age, 1) if isinstance(ok_age, (int, float)) else None,
            counters={k: v for k, v in (snapshot.get("counters") or {}).items() if isinstance(v, int)},
            simulated=snapshot.get("simulated") is True,
        ))
    return GateHealth(gate_id, str(status.get("name") or ""), str(status.get("timezone") or ""), round(age, 1),
                      age > silent_after_s, _int(status.get("backlog")), _int(status.get("capacity")), components)


def _int(value) -> int:
    return value if isinstance(value, int) else 0


def database_ok(engine) -> tuple[bool, str]:
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:") and not os.path.exists(database):
        return False, f"database file {os.path.abspath(database)} is missing (deleted or moved)"
    try:
        with engine.connect() as connection:
            connection.execute(sa_select(literal(1))).one()
        return True, ""
    except SQLAlchemyError as exc:
        return False, str(exc).splitlines()[0][:200]


def _agent_cannot_write(engine, local: list[dict], silent_after_s: float, now: float) -> Optional[str]:
    """The reason an agent on this machine gives for not writing to this app's database, if it has one."""
    url = engine.url.render_as_string(hide_password=True)
    for document in local:
        database = (document.get("components") or {}).get("database")
        if document.get("database") != url or not isinstance(database, dict) \
                or now - float(document["updated_at"]) > silent_after_s:
            continue
        if database.get("state") == "down":
            return f"gate {document['gate_id']} cannot write to it: {database.get('message') or 'down'}"
    return None


def database_and_gates(gate: Optional[str] = None) -> tuple[str, bool, list[GateHealth]]:
    """The database's problem ('' when it is up, for this app and for the local agents), whether this app can
    read it, and each gate's health (when it cannot be read, as the agents on this machine report themselves)."""
    app_state = state()
    silent_after_s = current_app.config["SILENT_AFTER_S"]
    now = time.time()
    local = local_statuses()
    reachable, problem = database_ok(app_state.engine)
    if reachable:
        problem = _agent_cannot_write(app_state.engine, local, silent_after_s, now) or ""
    if reachable:
        with Session(app_state.engine) as session:
            gates = gate_health(session, silent_after_s, gate, now, local)
    else:  # the log cannot be read: what the agents on this machine say about themselves
        gates = gate_health(None, silent_after_s, gate, now, local)
    return problem, reachable, gates


def health_document(gate: Optional[str] = None) -> tuple[dict, bool]:
    """The health document and whether the database is up (for this app, and for the local agents)."""
    problem, _reachable, gates = database_and_gates(gate)
    document: dict[str, Any] = {"database": {"state": "down" if problem else "ok", "message": problem}, "gates": []}
    document["gates"] = [{
        "gate_id": g.gate_id, "name": g.name, "state": g.state, "silent": g.silent, "age_s": g.age_s,
        "backlog": g.backlog,
        "simulated": g.simulated,
        "components": {c.name: {"state": c.state, "message": c.message, "last_ok_age_s": c.last_ok_age_s,
                                "counters": c.counters, "simulated": c.simulated} for c in g.components},
    } for g in gates]
    states = [document["database"]["state"]] + [g["state"] for g in document["gates"]]
    document["status"] = "down" if "down" in states[:1] else ("degraded" if any(s != "ok" for s in states) else "ok")
    return document, not problem


def simulated_gates() -> list[tuple[str, list[str]]]:
    """(gate name, its simulated components) for each live gate this app shows that runs simulated: the
    SIMULATED banner on every page. Worked out once per request; a database it cannot read hides nothing
    (the agents on this machine report themselves)."""
    if "simulated_gates" not in g:
        try:
            _problem, _reachable, gates = database_and_gates(state().gate)
        except SQLAlchemyError:
            gates = []
        g.simulated_gates = [(gate.name or gate.gate_id, gate.simulated) for gate in gates
                             if gate.simulated and not gate.silent]
    return g.simulated_gates


@bp.app_context_processor
def _simulation() -> dict:
    return {"simulated_gates": simulated_gates}


@bp.route("/healthz")
def healthz():
    document, reachable = health_document(state().gate)
    response = jsonify(document)
    response.status_code = 200 if reachable else 503
    response.headers["Cache-Control"] = "no-store"
    return response

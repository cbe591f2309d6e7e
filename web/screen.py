"""The live entry screen for security staff: latest decision, recent entries, today's counts, health.

The page is rendered on the server; screen.js listens to /events and fetches
the re-rendered live panel (/screen/live) when something changes. Guards
override a decision (an Override row beside the untouched Entry) and record
exits. In kiosk mode the screen opens without login, today only, read only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError

from checkpoint.entries import build_exit
from checkpoint.models import OUTCOMES, Override
from web import events
from web.auth import requires
from web.health import GateHealth, database_and_gates
from web.i18n import translate
from web.queries import EntryView, entry_by_uid, gate_ids, gate_names, latest_overrides, recent_entries, today_summary
from web.state import db, selected_gate, state, today, zone_for
from web.users import can

log = logging.getLogger(__name__)
bp = Blueprint("screen", __name__)
RECENT = 12
REASON_MAX = 500
TICK_S = 2.0  # the screen's stream sends a tick at least this often: a screen that hears nothing for 4.5 s is lost


def show_seconds() -> float:
    """How long the card shows a decision before it goes back to waiting ([visitor] show_s)."""
    return float(state().settings.visitor.show_s)


@dataclass
class Card:
    """What the big card says. ``closed`` (a gate on screen cannot decide, or the log cannot be read) wins
    over a decision; a decision shows for show_s after it was made or overridden, then ``waiting``."""

    state: str  # "closed", "decision" or "waiting"
    view: Optional[EntryView] = None
    remaining_s: float = 0.0  # how much longer the decision shows
    closed_gates: tuple[GateHealth, ...] = ()
    database_problem: str = ""  # this app cannot read the log


def shown_since(view: EntryView) -> datetime:
    """When a decision last changed: its own time, or its latest override's."""
    moment = view.entry.decided_at
    if view.override is not None and view.override.at > moment:
        moment = view.override.at
    return moment


def card_for(recent: list[EntryView], gates: list[GateHealth], database_problem: str, now: datetime,
             show_s: float) -> Card:
    closed = tuple(gh for gh in gates if gh.stopped)
    if closed or database_problem:
        return Card("closed", closed_gates=closed, database_problem=database_problem)
    if recent:
        view = max(recent, key=shown_since)
        remaining = show_s - (now - shown_since(view)).total_seconds()
        if remaining > 0:
            return Card("decision", view, min(remaining, show_s))
    return Card("waiting")


def _live_context() -> dict:
    gate = selected_gate(request.args.get("gate"))
    now = datetime.now(timezone.utc)
    problem, reachable, gates = database_and_gates(gate)
    recent, summary, day = [], None, now.astimezone(state().settings.zone).date().isoformat()
    if reachable:
        try:
            session = db()
            day = today(gate)
            recent = recent_entries(session, gate, RECENT, only_day=day if g.kiosk else None)
            summary = today_summary(session, day, gate)
        except SQLAlchemyError as exc:  # the log went away between the check and the reads
            db().rollback()
            log.warning("live screen cannot read the log: %s", str(exc).splitlines()[0][:200])
            reachable, problem = False, str(exc).splitlines()[0][:200]
    show_s = show_seconds()
    card = card_for(recent, gates, "" if reachable else (problem or "unreachable"), now, show_s)
    return {
        "gate": gate,
        "day": day,
        "card": card,
        "latest": card.view,
        "recent": recent,
        "summary": summary,
        "gates": gates,
        "now": now,
        "show_s": show_s,
    }


@bp.route("/")
@requires("screen", kiosk=True)
def index():
    context = _live_context()
    try:
        known, zone = gate_ids(db()), str(zone_for(context["gate"]))
    except SQLAlchemyError:  # the card says the log cannot be read
        db().rollback()
        known, zone = [gh.gate_id for gh in context["gates"]], str(state().settings.zone)
    return render_template("screen.html", known_gates=known, zone=zone, **context)


def gate_name(gate_id: Optional[str]) -> str:
    """A gate's name for people (from its heartbeat, or this app's own gate), else its id."""
    if not gate_id:
        return ""
    if "gate_names" not in g:
        try:
            g.gate_names = gate_names(db())
        except SQLAlchemyError:
            db().rollback()
            g.gate_names = {}
    settings = state().settings
    return g.gate_names.get(gate_id) or (settings.gate.name if gate_id == settings.gate.id else gate_id)


@bp.app_context_processor
def _names() -> dict:
    return {"gate_name": gate_name}


@bp.route("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico get the icon the pages link to."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/screen/live")
@requires("screen", kiosk=True)
def live():
    response = current_app.make_response(render_template("_live.html", **_live_context()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/events")
@requires("screen", kiosk=True)
def stream():
    # kiosk screens show today only: no replay of what happened before they connected
    last_event_id = None if g.kiosk else request.headers.get("Last-Event-ID")
    broker = state().broker
    try:  # the slot is taken now, so a stream over a cap is refused here instead of holding a thread
        subscription = broker.subscribe(request.remote_addr or "")
    except events.StreamRefused as refused:
        return Response(refused.message + "\n", refused.status, mimetype="text/plain",
                        headers={"Retry-After": str(refused.retry_after_s), "Cache-Control": "no-store"})
    body = events.stream(broker, last_event_id, selected_gate(request.args.get("gate")),
                         min(current_app.config["EVENTS_HEARTBEAT_S"], TICK_S), subscription=subscription, tick=True)
    response = Response(stream_with_context(body), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: broker.unsubscribe(subscription[0]))  # also when the body never started
    return response


@bp.route("/override", methods=["GET", "POST"])
@requires("override")
def override():
    session = db()
    entry = entry_by_uid(session, request.values.get("entry", ""))
    if entry is None:
        abort(404)
    error = None
    if request.method == "POST":
        outcome = request.form.get("outcome", "")
        reason = request.form.get("reason", "").strip()
        if outcome not in OUTCOMES:
            error = translate("screen.override_to")
        elif not reason or len(reason) > REASON_MAX:
            error = translate("screen.override_reason")
        else:
            session.add(Override(entry_uid=entry.uid, gate_id=entry.gate_id, at=datetime.now(timezone.utc),
                                 by_user=g.user.username, outcome=outcome, reason=reason))
            session.commit()
            flash(translate("screen.override_done"))
            if request.form.get("back") == "log" and can(g.user, "log"):
                return redirect(url_for("log.entries", **{"from": entry.local_date}))
            return redirect(url_for("screen.index", gate=request.form.get("back_gate") or None))
    current = latest_overrides(session, [entry.uid]).get(entry.uid)
    return render_template("override.html", entry=entry, current=current, outcomes=OUTCOMES, error=error,
                           back_gate=request.values.get("back_gate", ""),
                           back="log" if request.values.get("back") == "log" else ""), 400 if error else 200


EXIT_WAIT_S = 5.0  # default of the app config EXIT_WAIT_S: how long POST /exit waits for a locked log


@bp.route("/exit", methods=["POST"])
@requires("exit")
def record_exit():
    """A guard records a person leaving. The exit is written at once, retried while the log is locked or out
    of reach for at most EXIT_WAIT_S, and read back: only a stored exit is answered "recorded" (back to the
    screen, or 201 JSON); else 503 "not recorded, try again" with Retry-After, and nothing is stored."""
    gate = selected_gate(request.form.get("gate")) or state().settings.gate.id
    session = db()
    try:
        known = gate == state().settings.gate.id or gate in gate_ids(session)
    except SQLAlchemyError as exc:
        session.rollback()
        return _exit_not_recorded(exc)
    if not known:
        abort(400, "unknown gate")
    row = build_exit(gate, zone_for(gate), time.time(), "guard", g.user.username)
    problem = _store_exit(row, float(current_app.config.get("EXIT_WAIT_S", EXIT_WAIT_S)))
    if problem is not None:
        return _exit_not_recorded(problem)
    if _wants_json():
        return {"recorded": True, "uid": row.uid, "gate_id": row.gate_id, "at": row.at.isoformat()}, 201
    flash(translate("screen.exit_done"))
    return redirect(url_for("screen.index", gate=request.form.get("back_gate") or None))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _store_exit(row, wait_s: float) -> Optional[BaseException]:
    """Write ``row`` (one uid: a retry never stores it twice), retrying for up to ``wait_s``; each try waits for
    a lock no longer than the time left. None once the row is read back from the log, else the last error."""
    from sqlmodel import Session, select

    from checkpoint.models import Exit

    engine = state().engine
    sqlite = engine.url.get_backend_name() == "sqlite"
    deadline = time.monotonic() + wait_s
    fields = row.model_dump()
    delay, problem = 0.05, None
    while True:
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            return problem
        try:
            with engine.connect() as connection:
                if sqlite:  # the busy timeout is the connection's: set for this try, then given back
                    default_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={left_ms}")
                    connection.commit()
                try:
                    with Session(bind=connection) as session:
                        if not sqlite:  # PostgreSQL: a lock or a stall ends the try within the time left
                            session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {left_ms}")
                            session.connection().exec_driver_sql(f"SET LOCAL statement_timeout = {left_ms}")
                        stored = session.exec(select(Exit.uid).where(Exit.uid == row.uid)).first()
                        if stored is None:  # not there from a try whose answer was lost
                            session.add(Exit(**fields))
                            session.commit()
                        if session.exec(select(Exit.uid).where(Exit.uid == row.uid)).first() is None:
                            raise RuntimeError("the exit was not in the log after its commit")
                finally:
                    if sqlite:
                        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(default_ms)}")
            return None
        except (SQLAlchemyError, RuntimeError) as exc:
            problem = exc
            log.warning("exit for gate %s not written yet (%.1f s left): %s", row.gate_id, left_ms / 1000,
                        str(exc).splitlines()[0][:200])
        time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)


def _exit_not_recorded(problem: BaseException):
    """503: the exit is NOT recorded (the guard is told to try again), JSON for clients that ask for it."""
    from werkzeug.exceptions import ServiceUnavailable

    log.error("exit NOT recorded, the guard is asked to try again: %s", str(problem).splitlines()[0][:200])
    message = translate("screen.exit_failed")
    retry_after = 2
    if _wants_json():
        return ({"recorded": False, "error": message, "retry_after_s": retry_after}, 503,
                {"Retry-After": str(retry_after)})
    raise ServiceUnavailable(description=message, retry_after=retry_after)

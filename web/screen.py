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

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request,
                   stream_with_context, url_for)
from sqlalchemy.exc import SQLAlchemyError

from checkpoint.entries import build_exit
from checkpoint.models import OUTCOMES, Override
from web import events
from web.auth import requires
from web.health import GateHealth, database_and_gates
from web.users import can
from web.i18n import translate
from web.queries import EntryView, entry_by_uid, gate_ids, gate_names, latest_overrides, recent_entries, today_summary
from web.state import db, selected_gate, state, today, zone_for

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


@bp.route("/exit", methods=["POST"])
@requires("exit")
def record_exit():
    gate = selected_gate(request.form.get("gate")) or state().settings.gate.id
    session = db()
    if gate not in gate_ids(session) and gate != state().settings.gate.id:
        abort(400, "unknown gate")
    session.add(build_exit(gate, zone_for(gate), time.time(), "guard", g.user.username))
    session.commit()
    flash(translate("screen.exit_done"))
    return redirect(url_for("screen.index", gate=request.form.get("back_gate") or None))

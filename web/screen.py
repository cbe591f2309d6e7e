"""The live entry screen for security staff: latest decision, recent entries, today's counts, health.

The page is rendered on the server; screen.js listens to /events and fetches
the re-rendered live panel (/screen/live) when something changes. Guards
override a decision (an Override row beside the untouched Entry) and record
exits. In kiosk mode the screen opens without login, today only, read only.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import (Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request,
                   stream_with_context, url_for)

from checkpoint.entries import build_exit
from checkpoint.models import OUTCOMES, Override
from web import events
from web.auth import requires
from web.health import gate_health
from web.i18n import translate
from web.queries import entry_by_uid, gate_ids, latest_overrides, recent_entries, today_summary
from web.state import db, selected_gate, state, today, zone_for

bp = Blueprint("screen", __name__)
RECENT = 12
REASON_MAX = 500


def _live_context() -> dict:
    session, gate = db(), selected_gate(request.args.get("gate"))
    day = today(gate)
    recent = recent_entries(session, gate, RECENT, only_day=day if g.kiosk else None)
    return {
        "gate": gate,
        "day": day,
        "latest": recent[0] if recent else None,
        "recent": recent,
        "summary": today_summary(session, day, gate),
        "gates": gate_health(session, current_app.config["SILENT_AFTER_S"], gate),
        "now": datetime.now(timezone.utc),
    }


@bp.route("/")
@requires("screen", kiosk=True)
def index():
    context = _live_context()
    return render_template("screen.html", known_gates=gate_ids(db()), zone=str(zone_for(context["gate"])),
                           **context)


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
                         current_app.config["EVENTS_HEARTBEAT_S"], subscription=subscription)
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
            return redirect(url_for("screen.index", gate=request.form.get("back_gate") or None))
    current = latest_overrides(session, [entry.uid]).get(entry.uid)
    return render_template("override.html", entry=entry, current=current, outcomes=OUTCOMES, error=error,
                           back_gate=request.values.get("back_gate", "")), 400 if error else 200


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

"""The JSON API for scripts and other systems (documented in docs/api.md).

Sign in with the web session or HTTP basic auth. Read only.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from checkpoint.counts import cache_for, days_of
from web.auth import requires
from web.filters import EntryFilter, FilterError, page
from web.health import health_document
from web.queries import latest_overrides
from web.reports import report_gate, report_range
from web.state import db, selected_gate, state, today, zone_for

bp = Blueprint("api", __name__, url_prefix="/api")


def entry_json(e, override) -> dict:
    zone = zone_for(e.gate_id)
    return {
        "id": e.id, "uid": e.uid, "gate_id": e.gate_id,
        "decided_at": e.decided_at.isoformat(), "local_time": e.decided_at.astimezone(zone).isoformat(),
        "local_date": e.local_date, "outcome": e.outcome,
        "final_outcome": override.outcome if override is not None else e.outcome, "flagged": e.flagged,
        "reasons": [code for code in e.reasons.split(",") if code], "primary_reason": e.primary_reason or None,
        "body_c": e.body_c, "object_c": e.object_c, "ambient_c": e.ambient_c, "offset_c": e.offset_c,
        "calibration": e.calibration, "sensor_id": e.sensor_id, "mask_class": e.mask_class,
        "mask_confidence": e.mask_confidence, "face_seen": e.face_seen,
        "override": None if override is None else {
            "outcome": override.outcome, "by_user": override.by_user, "reason": override.reason,
            "at": override.at.isoformat(),
        },
    }


def bad_request(message: str):
    return jsonify({"error": message}), 400


@bp.route("/entries")
@requires("api", api=True)
def entries():
    try:
        flt = EntryFilter.from_args(request.args, today(selected_gate(request.args.get("gate"))), state().gate)
        limit = int(request.args.get("limit") or 100)
        if not 1 <= limit <= current_app.config["API_MAX_LIMIT"]:
            raise FilterError(f"limit: 1 to {current_app.config['API_MAX_LIMIT']}")
        rows, next_after = page(db(), flt, request.args.get("after") or None, limit)
    except (FilterError, ValueError) as exc:
        return bad_request(str(exc))
    overrides = latest_overrides(db(), [e.uid for e in rows])
    return jsonify({"filter": flt.query_args(), "count": len(rows), "next": next_after,
                    "entries": [entry_json(e, overrides.get(e.uid)) for e in rows]})


@bp.route("/counts")
@requires("api", api=True)
def counts():
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
    except FilterError as exc:
        return bad_request(str(exc))
    table = cache_for(db().get_bind()).table(db(), first, last, gate)  # the log's tallies, kept by row id
    return jsonify({"from": first, "to": last, "gate_id": gate,
                    "days": [c.as_dict() for c in days_of(table, first, last, gate)]})


@bp.route("/health")
@requires("screen", api=True)
def health():
    document, reachable = health_document(state().gate or request.args.get("gate") or None)
    return jsonify(document), 200 if reachable else 503

"""Reports for managers: daily counts over a range, the hourly distribution of one day, denials by reason.

Each chart is inline SVG drawn on the server, with the table behind it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from flask import Blueprint, current_app, render_template, request

from checkpoint.counts import daily_counts, daily_range
from web import charts
from web.auth import requires
from web.filters import GATE, FilterError, parse_day
from web.i18n import reason_label, translate
from web.queries import gate_ids
from web.state import db, selected_gate, state, today

bp = Blueprint("reports", __name__)
GREEN, RED, AMBER = "#1b7f3a", "#b71c1c", "#e6a100"


def report_range(args, max_days: int, gate: Optional[str] = None) -> tuple[str, str]:
    """The ``from``/``to`` local dates asked for (default: the last 14 days), at most ``max_days`` long."""
    last = parse_day(args.get("to") or today(gate), "to")
    first = parse_day(args.get("from") or (last - timedelta(days=13)).isoformat(), "from")
    if last < first:
        raise FilterError("to: before from")
    if (last - first).days + 1 > max_days:
        raise FilterError(f"at most {max_days} days")
    return first.isoformat(), last.isoformat()


def report_gate(args):
    gate = selected_gate(args.get("gate"))
    if gate and not GATE.fullmatch(gate):
        raise FilterError("gate: not a gate id")
    return gate


@bp.route("/reports")
@requires("reports")
def index():
    session = db()
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
        day = parse_day(request.args.get("day") or last, "day").isoformat()
        error = None
    except (FilterError, ValueError) as exc:
        first = last = day = today()
        gate, error = state().gate, str(exc)
    days = daily_range(session, first, last, gate)
    one_day = daily_counts(session, day, gate)
    reasons: dict[str, int] = {}
    for counts in days:
        for code, n in counts.denied_by_reason.items():
            reasons[code] = reasons.get(code, 0) + n
    reason_rows = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    daily_chart = charts.stacked_bars(translate("reports.daily"), [c.day[5:] for c in days], [
        (translate("screen.allowed"), GREEN, [c.allowed for c in days]),
        (translate("screen.denied"), RED, [c.denied for c in days]),
        (translate("screen.remeasure"), AMBER, [c.remeasure for c in days]),
    ], width=1200)
    hourly_chart = charts.bars(translate("reports.hourly"), [f"{h:02d}" for h in range(24)], one_day.hourly)
    reason_chart = charts.horizontal_bars(translate("reports.reasons"), [reason_label(c) for c, _ in reason_rows],
                                          [n for _, n in reason_rows], RED)
    totals = {key: sum(getattr(c, key) for c in days)
              for key in ("visitors", "allowed", "denied", "remeasure", "flagged", "overridden", "exits")}
    return render_template("reports.html", first=first, last=last, gate=gate, day=day, days=days, one_day=one_day,
                           reason_rows=reason_rows, daily_chart=daily_chart, hourly_chart=hourly_chart,
                           reason_chart=reason_chart, totals=totals, error=error, gates=gate_ids(session)), \
        400 if error else 200

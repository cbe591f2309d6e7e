"""Reports for managers: daily counts over a range, the hourly distribution of one day, denials by reason.

Each chart is inline SVG drawn on the server, with the table behind it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Optional

from flask import Blueprint, Response, current_app, render_template, request

from checkpoint.counts import DailyCounts, daily_counts, daily_range, gates_in_range, total
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


COLUMNS = ("visitors", "allowed", "denied", "remeasure", "flagged", "overridden", "exits")


def per_gate(session, first: str, last: str, gate: Optional[str]) -> list[DailyCounts]:
    """Each gate's totals over the range (the one gate asked for, or every gate with entries or exits)."""
    gates = [gate] if gate else gates_in_range(session, first, last)
    return [total(daily_range(session, first, last, g), gate_id=g) for g in gates]


@bp.route("/reports")
@requires("reports")
def index():
    session = db()
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
        day = parse_day(request.args.get("day") or last, "day").isoformat()
        error = None
    except (FilterError, ValueError) as exc:  # the report of today, the boxes as they were filled in
        first = last = day = today()
        gate, error = state().gate, str(exc)
    shown = {name: (request.args.get(name, "") if error else value)
             for name, value in (("from", first), ("to", last), ("day", day))}
    days = daily_range(session, first, last, gate)
    one_day = daily_counts(session, day, gate)
    summed = total(days, gate_id=gate)
    reason_rows = sorted(summed.denied_by_reason.items(), key=lambda item: (-item[1], item[0]))
    # The bars are visitors (allowed + denied, final outcomes): the number on each is the table's "Visitors".
    # Re-measure requests are no visitors of their own: a thin bar beside, outside the total.
    daily_chart = charts.stacked_bars(translate("reports.daily"), [c.day[5:] for c in days], [
        (translate("screen.allowed"), GREEN, [c.allowed for c in days]),
        (translate("screen.denied"), RED, [c.denied for c in days]),
    ], width=1200, beside=(translate("screen.remeasure_requests"), AMBER, [c.remeasure for c in days]))
    hourly_chart = charts.bars(translate("reports.hourly"), [f"{h:02d}" for h in range(24)], one_day.hourly)
    reason_chart = charts.horizontal_bars(translate("reports.reasons"), [reason_label(c) for c, _ in reason_rows],
                                          [n for _, n in reason_rows], RED)
    totals = {key: getattr(summed, key) for key in COLUMNS}
    gates = per_gate(session, first, last, gate)
    return render_template("reports.html", first=first, last=last, gate=gate, day=day, days=days, one_day=one_day,
                           reason_rows=reason_rows, daily_chart=daily_chart, hourly_chart=hourly_chart,
                           reason_chart=reason_chart, totals=totals, error=error, gates=gate_ids(session),
                           by_gate=gates, shown=shown, shortcuts=shortcuts(gate)), 400 if error else 200


def shortcuts(gate: Optional[str]) -> list[tuple[str, str, str]]:
    """(label key, from, to) for the usual ranges: today, yesterday, the last 7 and 30 days."""
    now = parse_day(today(gate), "today")
    return [("range.today", now.isoformat(), now.isoformat()),
            ("range.yesterday", (now - timedelta(days=1)).isoformat(), (now - timedelta(days=1)).isoformat()),
            ("range.week", (now - timedelta(days=6)).isoformat(), now.isoformat()),
            ("range.month", (now - timedelta(days=29)).isoformat(), now.isoformat())]


@bp.route("/reports.csv")
@requires("export")
def export():
    """The report's tables as CSV: one row per local day (and gate, ``by=gate``: one per gate), then the total."""
    session = db()
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
    except (FilterError, ValueError) as exc:
        return Response(f"invalid report: {exc}\n", status=400, mimetype="text/plain")
    by_gate = request.args.get("by") == "gate"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("from", "to", "day", "gate_id") + COLUMNS + ("peak_hour", "denied_by_reason"))

    def row(counts: DailyCounts, day: str, gate_id: str) -> tuple:
        reasons = "; ".join(f"{code}={n}" for code, n in sorted(counts.denied_by_reason.items()))
        return (first, last, day, gate_id) + tuple(getattr(counts, key) for key in COLUMNS) + \
            ("" if counts.peak_hour is None else counts.peak_hour, reasons)

    if by_gate:
        rows = per_gate(session, first, last, gate)
        for counts in rows:
            writer.writerow(row(counts, "", counts.gate_id))
    else:
        rows = daily_range(session, first, last, gate)
        for counts in rows:
            writer.writerow(row(counts, counts.day, gate or ""))
    writer.writerow(row(total(rows), "total", gate or ""))
    name = f"report_{first}_{last}{'_by_gate' if by_gate else ''}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

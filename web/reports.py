"""Reports for managers: counts over a range by day, week or month, the hourly distribution of one day, denials
by reason, and each gate's totals.

Each chart is inline SVG drawn on the server, with the table behind it. A range of up to two months is shown
by day; longer ranges by week (Monday to Sunday), and beyond six months by calendar month, the first and last
bucket cut at the range's ends (``bucket=day|week|month`` chooses). The counts come from
``checkpoint.counts.CountsCache``: the log's tallies per day and gate, kept up to date by row id, so a year
costs what a day does.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

from flask import Blueprint, Response, current_app, render_template, request

from checkpoint.counts import DailyCounts, cache_for, days_of, gates_of, total
from web import charts
from web.auth import requires
from web.filters import GATE, FilterError, parse_day
from web.i18n import reason_label, translate
from web.queries import gate_ids
from web.state import db, selected_gate, state, today

bp = Blueprint("reports", __name__)
log = logging.getLogger(__name__)
GREEN, RED, AMBER = "#1b7f3a", "#b71c1c", "#e6a100"


@bp.record_once
def _read_counts_at_start(setup) -> None:
    """Read the log's tallies in the background when the app starts (not under tests), so that the first report
    does not wait for that one full read (about 0.3 s per million entries)."""
    app = setup.app
    if app.testing:
        return
    engine = app.extensions["checkpoint"].engine

    def read() -> None:
        try:
            cache_for(engine).refresh(engine)
        except Exception as exc:  # the log out of reach, or the app closed meanwhile: the first report reads it
            log.info("report counts not read at start: %s", exc)

    threading.Thread(target=read, name="report-counts", daemon=True).start()


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
BUCKETS = ("day", "week", "month")
DAILY_UP_TO, WEEKLY_UP_TO = 62, 186  # days in the range: by day up to two months, by week up to six, then by month


@dataclass
class Bucket:
    """The counts of one day, week or month of the range (``first`` to ``last``, cut at the range's ends)."""

    kind: str
    first: str
    last: str
    counts: DailyCounts

    @property
    def label(self) -> str:
        """The chart's label: MM-DD of the day or of the week's first day in the range; YYYY-MM of a month."""
        return self.first[:7] if self.kind == "month" else self.first[5:]


def bucket_kind(first: str, last: str, asked: Optional[str] = None) -> str:
    """The asked-for bucket, or the one for the range's length."""
    if asked:
        if asked not in BUCKETS:
            raise FilterError(f"bucket: one of {', '.join(BUCKETS)}")
        return asked
    days = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
    return "day" if days <= DAILY_UP_TO else ("week" if days <= WEEKLY_UP_TO else "month")


def buckets(days: list[DailyCounts], kind: str) -> list[Bucket]:
    """Consecutive days (as ``days_of`` gives them) summed per day, ISO week (Monday first) or calendar month."""
    if kind == "day":
        return [Bucket(kind, c.day, c.day, c) for c in days]
    groups: dict[str, list[DailyCounts]] = {}
    for c in days:
        day = date.fromisoformat(c.day)
        key = (day - timedelta(days=day.weekday())).isoformat() if kind == "week" else c.day[:7]
        groups.setdefault(key, []).append(c)
    return [Bucket(kind, rows[0].day, rows[-1].day, total(rows, day=rows[0].day, gate_id=rows[0].gate_id))
            for rows in groups.values()]


def report_counts(session, first: str, last: str, gate: Optional[str]) -> tuple[list[DailyCounts], list[DailyCounts]]:
    """The range's counts by day (the gates summed, or the one gate) and each gate's totals."""
    table = cache_for(session.get_bind()).table(session, first, last, gate)
    return days_of(table, first, last, gate), gates_of(table)


@bp.route("/reports")
@requires("reports")
def index():
    session = db()
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
        day = parse_day(request.args.get("day") or last, "day").isoformat()
        kind = bucket_kind(first, last, request.args.get("bucket") or None)
        error = None
    except (FilterError, ValueError) as exc:  # the report of today, the boxes as they were filled in
        first = last = day = today()
        gate, error, kind = state().gate, str(exc), "day"
    shown = {name: (request.args.get(name, "") if error else value)
             for name, value in (("from", first), ("to", last), ("day", day))}
    days, gates = report_counts(session, first, last, gate)
    if gate and not gates:
        gates = [DailyCounts("", gate)]
    rows = buckets(days, kind)
    one_day = next((c for c in days if c.day == day), None)
    if one_day is None:  # the hourly chart's day outside the range
        one_day = days_of(cache_for(session.get_bind()).table(session, day, day, gate), day, day, gate)[0]
    summed = total(days, gate_id=gate)
    reason_rows = sorted(summed.denied_by_reason.items(), key=lambda item: (-item[1], item[0]))
    # The bars are visitors (allowed + denied, final outcomes): the number on each is the table's "Visitors".
    # Re-measure requests are no visitors of their own: a thin bar beside, outside the total.
    daily_chart = charts.stacked_bars(translate(f"reports.per_{kind}"), [b.label for b in rows], [
        (translate("screen.allowed"), GREEN, [b.counts.allowed for b in rows]),
        (translate("screen.denied"), RED, [b.counts.denied for b in rows]),
    ], width=1200, beside=(translate("screen.remeasure_requests"), AMBER, [b.counts.remeasure for b in rows]))
    hourly_chart = charts.bars(translate("reports.hourly"), [f"{h:02d}" for h in range(24)], one_day.hourly)
    reason_chart = charts.horizontal_bars(translate("reports.reasons"), [reason_label(c) for c, _ in reason_rows],
                                          [n for _, n in reason_rows], RED)
    totals = {key: getattr(summed, key) for key in COLUMNS}
    return render_template("reports.html", first=first, last=last, gate=gate, day=day, days=days, rows=rows,
                           bucket=kind, buckets=BUCKETS, asked_bucket=request.args.get("bucket") or "",
                           one_day=one_day, reason_rows=reason_rows, daily_chart=daily_chart,
                           hourly_chart=hourly_chart, reason_chart=reason_chart, totals=totals, error=error,
                           gates=gate_ids(session), by_gate=gates, shown=shown, shortcuts=shortcuts(gate)), \
        400 if error else 200


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
    """The report's tables as CSV: one row per local day (``bucket=week|month``: per week or month, ``day`` its
    first day in the range; ``by=gate``: one per gate), then the total."""
    session = db()
    try:
        gate = report_gate(request.args)
        first, last = report_range(request.args, current_app.config["REPORT_MAX_DAYS"], gate)
        kind = bucket_kind(first, last, request.args.get("bucket") or "day")
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

    days, gates = report_counts(session, first, last, gate)
    if by_gate:
        rows = gates or ([DailyCounts("", gate)] if gate else [])
        for counts in rows:
            writer.writerow(row(counts, "", counts.gate_id))
    else:
        rows = days
        for b in buckets(days, kind):
            writer.writerow(row(b.counts, b.first, gate or ""))
    writer.writerow(row(total(rows), "total", gate or ""))
    name = f"report_{first}_{last}{'_by_gate' if by_gate else ''}{'' if kind == 'day' else '_by_' + kind}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

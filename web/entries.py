"""The visitor log for managers: filter, sort, page, and export exactly the filtered rows as CSV."""

from __future__ import annotations

import csv
import io
import unicodedata
from typing import Iterator, Optional

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from sqlmodel import Session

from checkpoint.models import OUTCOMES
from checkpoint.reasons import current_codes, label, split_codes
from web.auth import requires
from web.filters import SORTS, EntryFilter, FilterError, count, iterate, page
from web.i18n import current_language
from web.queries import gate_ids, gate_names, latest_overrides, with_overrides
from web.reports import shortcuts
from web.state import db, selected_gate, state, today, zone_for

bp = Blueprint("log", __name__)

# outcome is the gate's own decision, final_outcome the one that counts (a guard's latest override, else the
# outcome); the *_label columns are the codes in words, in the language of the page that asked
CSV_COLUMNS = ("id", "uid", "gate_id", "local_time", "local_date", "outcome", "final_outcome", "flagged",
               "reasons", "reason_labels", "primary_reason", "primary_reason_label",
               "body_c", "object_c", "ambient_c", "offset_c", "calibration", "sensor_id", "mask_class",
               "mask_confidence", "face_seen", "override_outcome", "override_by", "override_reason", "override_at",
               "gate_name")


def parse_filter() -> EntryFilter:
    return EntryFilter.from_args(request.args, today(selected_gate(request.args.get("gate"))), state().gate)


@bp.route("/entries")
@requires("log")
def entries():
    try:
        flt = parse_filter()
        rows, next_after = page(db(), flt, request.args.get("after") or None, current_app.config["PAGE_SIZE"])
        error = None
    except FilterError as exc:
        flt, rows, next_after, error = EntryFilter(today(), today()), [], None, str(exc)
    cap = current_app.config["LOG_COUNT_CAP"]
    total = count(db(), flt, cap) if not error else 0
    # a refused filter leaves the boxes as they were filled in, beside the message
    shown = {name: (request.args.get(name, "") if error else value)
             for name, value in (("from", flt.first), ("to", flt.last))}
    return render_template("entries.html", flt=flt, views=with_overrides(db(), rows), next_after=next_after,
                           total=total, cap=cap, error=error, outcomes=OUTCOMES, reason_codes=current_codes(), sorts=SORTS,
                           gates=gate_ids(db()), paged=bool(request.args.get("after")), shown=shown,
                           shortcuts=shortcuts(selected_gate(request.args.get("gate")))[:3]), 400 if error else 200


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text as a spreadsheet will read it: a cell that could start a formula gets a leading ``'``.

    Formula starters are ``= + - @``, tab and CR, also in their full-width and
    other compatibility forms (``＝ ＋ － ＠``, ``﹦``...), which spreadsheets in
    East Asian locales take for the ASCII ones: NFKC folds each to its ASCII form.
    """
    text = "" if value is None else str(value)
    first = unicodedata.normalize("NFKC", text[:1])[:1]
    return "'" + text if first in FORMULA_STARTS else text


class _Number(str):
    """A number written as text (``_num``): left as it is, so ``-5`` stays a number."""


class _SafeWriter:
    """Every text cell goes through ``_cell``, whatever the column: numbers stay numbers."""

    def __init__(self, writer) -> None:
        self._writer = writer

    def writerow(self, row) -> None:
        self._writer.writerow([v if isinstance(v, (int, float, _Number)) else _cell(v) for v in row])


def csv_lines(engine, flt: EntryFilter, language: str = "id", names: Optional[dict[str, str]] = None) -> Iterator[str]:
    names = names or {}
    buffer = io.StringIO()
    writer = _SafeWriter(csv.writer(buffer))  # formula protection on every text cell

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield take()
    with Session(engine) as session:
        zones: dict = {}
        for rows in iterate(session, flt):
            overrides = latest_overrides(session, [e.uid for e in rows])
            for e in rows:
                zone = zones.setdefault(e.gate_id, zone_for(e.gate_id))
                o = overrides.get(e.uid)
                writer.writerow((
                    e.id, e.uid, e.gate_id, e.decided_at.astimezone(zone).isoformat(timespec="seconds"), e.local_date,
                    e.outcome, o.outcome if o else e.outcome, int(e.flagged),
                    e.reasons, "; ".join(label(code, language) for code in split_codes(e.reasons)),
                    e.primary_reason, label(e.primary_reason, language) if e.primary_reason else "",
                    _num(e.body_c), _num(e.object_c),
                    _num(e.ambient_c), _num(e.offset_c), e.calibration, _cell(e.sensor_id), e.mask_class or "",
                    _num(e.mask_confidence), int(e.face_seen), o.outcome if o else "", _cell(o.by_user) if o else "",
                    _cell(o.reason) if o else "", o.at.astimezone(zone).isoformat(timespec="seconds") if o else "",
                    _cell(names.get(e.gate_id, e.gate_id)),
                ))
            yield take()


def _num(value) -> str:
    return "" if value is None else _Number(f"{value:g}")


@bp.route("/entries.csv")
@requires("export")
def export():
    try:
        flt = parse_filter()
    except FilterError as exc:
        return Response(f"invalid filter: {exc}\n", status=400, mimetype="text/plain")
    zone_for(None)  # load the gates' time zones while the request's context is at hand
    names = gate_names(db())
    settings = state().settings
    names.setdefault(settings.gate.id, settings.gate.name)
    name = f"entries_{flt.first}_{flt.last}.csv"
    return Response(stream_with_context(csv_lines(state().engine, flt, current_language(), names)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

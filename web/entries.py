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
from web.filters import (
    SORTS,
    EntryFilter,
    FilterError,
    count,
    iterate_rows,
    latest_overrides_in_range,
    moment,
    page,
    plan,
)
from web.i18n import current_language
from web.queries import gate_ids, gate_names, with_overrides
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
    planned = None
    try:
        flt = parse_filter()
        planned = plan(db(), flt)  # one choice of index for the page and its count
        rows, next_after = page(db(), flt, request.args.get("after") or None, current_app.config["PAGE_SIZE"],
                                planned)
        error = None
    except FilterError as exc:
        flt, rows, next_after, error = EntryFilter(today(), today()), [], None, str(exc)
    cap = current_app.config["LOG_COUNT_CAP"]
    total = count(db(), flt, cap, planned) if not error else 0
    # a refused filter leaves the boxes as they were filled in, beside the message
    shown = {name: (request.args.get(name, "") if error else value)
             for name, value in (("from", flt.first), ("to", flt.last))}
    return render_template("entries.html", flt=flt, views=with_overrides(db(), rows), next_after=next_after,
                           total=total, cap=cap, error=error, outcomes=OUTCOMES, reason_codes=current_codes(),
                           sorts=SORTS, gates=gate_ids(db()), paged=bool(request.args.get("after")), shown=shown,
                           shortcuts=shortcuts(selected_gate(request.args.get("gate")))[:3]), 400 if error else 200


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text as a spreadsheet will read it: a cell that could start a formula gets a leading ``'``.

    Formula starters are ``= + - @``, tab and CR, also in their full-width and
    other compatibility forms (``＝ ＋ － ＠``, ``﹦``...), which spreadsheets in
    East Asian locales take for the ASCII ones: NFKC folds each to its ASCII form.
    """
    text = "" if value is None else str(value)
    if not text or ("\x20" <= text[0] < "\x7f" and text[0] not in FORMULA_STARTS):
        return text  # printable ASCII NFKC leaves as it is: the common case, decided without normalizing
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


# what the CSV reads of each entry besides id, decided_at and body_c (rows, not ORM objects)
_CSV_READ = ("uid", "gate_id", "local_date", "outcome", "flagged", "reasons", "primary_reason", "object_c",
             "ambient_c", "offset_c", "calibration", "sensor_id", "mask_class", "mask_confidence", "face_seen")
_MEMO = 100_000  # combinations and numbers remembered per export (they repeat: gates, outcomes, reasons, 36.6)


def csv_lines(engine, flt: EntryFilter, language: str = "id", names: Optional[dict[str, str]] = None) -> Iterator[str]:
    """The export: the header, then one chunk of rows at a time (flat memory), in the log's order.

    Every text cell goes through ``_cell`` (formula protection) and the csv module (quoting); numbers through
    ``_num``. What repeats from row to row (an entry's gate, date, outcomes, reasons and their labels,
    calibration, sensor, mask and gate name) is written once per distinct combination and remembered; what
    changes (id, uid, time, numbers) needs no quoting (a uid that would is written by the csv module too),
    so a year streams at disk speed."""
    names = names or {}
    buffer = io.StringIO()
    safe = _SafeWriter(csv.writer(buffer))

    def record(cells) -> str:
        """Cells as one CSV record, protected and quoted by the csv module, without its line end (CR LF)."""
        buffer.seek(0)
        buffer.truncate()
        safe.writerow(cells)
        return buffer.getvalue()[:-2]

    yield record(CSV_COLUMNS) + "\r\n"
    parts: dict[tuple, tuple] = {}
    numbers: dict = {}

    def num(value) -> str:
        found = numbers.get(value)
        if found is None:
            found = _num(value)
            if len(numbers) < _MEMO:
                numbers[value] = found
        return found

    def repeated(gate_id, local_date, outcome, final, flagged, reasons, primary, calibration, sensor_id, mask_class,
                 face_seen) -> tuple:
        labels = "; ".join(label(code, language) for code in split_codes(reasons))
        return (record([gate_id]),
                record([local_date, outcome, final, int(flagged), reasons, labels, primary,
                        label(primary, language) if primary else ""]),
                record([calibration, sensor_id, mask_class or ""]), str(int(face_seen)),
                record([names.get(gate_id, gate_id)]))

    with Session(engine) as session:
        overrides = latest_overrides_in_range(session, flt)  # the few overridden entries, read once
        zones: dict = {}
        for rows in iterate_rows(session, flt, _CSV_READ, chunk=2000):
            out = []
            for (ident, decided_at, body_c, uid, gate_id, local_date, outcome, flagged, reasons, primary, object_c,
                 ambient_c, offset_c, calibration, sensor_id, mask_class, mask_confidence, face_seen) in rows:
                zone = zones.get(gate_id)
                if zone is None:
                    zone = zones[gate_id] = zone_for(gate_id)
                o = overrides.get(uid) if overrides else None
                key = (gate_id, local_date, outcome, o.outcome if o else outcome, flagged, reasons, primary,
                       calibration, sensor_id, mask_class, face_seen)
                cells = parts.get(key)
                if cells is None:
                    cells = repeated(*key)
                    if len(parts) < _MEMO:
                        parts[key] = cells
                gate, middle, mask, face, gate_name = cells
                override = ",,," if o is None else \
                    record([o.outcome, o.by_user, o.reason, o.at.astimezone(zone).isoformat(timespec="seconds")])
                if not (uid.isascii() and uid.isalnum()):
                    uid = record([uid])
                local_time = moment(decided_at).astimezone(zone).isoformat(timespec="seconds")
                out.append(f"{ident},{uid},{gate},{local_time},{middle},{num(body_c)},{num(object_c)},{num(ambient_c)},"
                           f"{num(offset_c)},{mask},{num(mask_confidence)},{face},{override},{gate_name}\r\n")
            yield "".join(out)


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

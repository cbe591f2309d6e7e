"""The visitor log's CSV (issue 16 made it stream at disk speed): byte for byte what the csv module writes from
each entry's columns as before, formula protection on every text cell, numbers as numbers, final outcomes and
labels, in the log's order, whatever the filter's plan."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from web_helpers import ZONE, make_entry, store

from checkpoint.models import Override
from checkpoint.reasons import label, split_codes
from web import filters
from web.entries import CSV_COLUMNS, _cell, _num

DAY = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def reference(entries, overrides, language: str, names: dict) -> str:
    """The export as the code before issue 16 wrote it: a csv.writer row per entry, every text cell through
    _cell, numbers through _num, the latest override of each entry."""
    latest = {}
    for o in sorted(overrides, key=lambda o: o.id):
        latest[o.entry_uid] = o
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def row(values):
        writer.writerow([v if isinstance(v, int) or type(v).__name__ == "_Number" else _cell(v) for v in values])

    row(CSV_COLUMNS)
    for e in entries:
        o = latest.get(e.uid)
        local = e.decided_at.astimezone(ZONE)
        row((e.id, e.uid, e.gate_id, local.isoformat(timespec="seconds"), e.local_date, e.outcome,
             o.outcome if o else e.outcome, int(e.flagged), e.reasons,
             "; ".join(label(code, language) for code in split_codes(e.reasons)), e.primary_reason,
             label(e.primary_reason, language) if e.primary_reason else "", _num(e.body_c), _num(e.object_c),
             _num(e.ambient_c), _num(e.offset_c), e.calibration, _cell(e.sensor_id), e.mask_class or "",
             _num(e.mask_confidence), int(e.face_seen), o.outcome if o else "", _cell(o.by_user) if o else "",
             _cell(o.reason) if o else "", o.at.astimezone(ZONE).isoformat(timespec="seconds") if o else "",
             _cell(names.get(e.gate_id, e.gate_id))))
    return buffer.getvalue()


@pytest.fixture
def hostile(engine):
    rows = [
        make_entry(DAY, outcome="denied", reasons="fever,no_mask", body_c=38.25, object_c=-1.5, ambient_c=-5.0,
                   offset_c=-0.3, mask_class="no_mask", mask_confidence=0.875),
        make_entry(DAY + timedelta(minutes=1), gate_id="＝HYPERLINK(\"http://evil\")", outcome="denied",
                   reasons="=cmd|' /C calc'!A0,fever", primary_reason="+reason", calibration="-2+3",
                   mask_class="@SUM(1)", sensor_id="\tsensor, \"quoted\"\nnext line", body_c=37.9),
        make_entry(DAY + timedelta(minutes=2), outcome="remeasure", reasons="implausible_temperature", body_c=None,
                   object_c=None, mask_class=None, mask_confidence=None, face_seen=False),
        make_entry(DAY + timedelta(minutes=3), outcome="denied", reasons="mask_below_nose", body_c=36.0,
                   mask_class="mask_below_nose", uid="abc,def\"ghi"),
        make_entry(DAY + timedelta(minutes=3), outcome="allowed", flagged=True, reasons="mask_incorrect",
                   gate_id="gate-2", body_c=1e-7, object_c=123456789.0),
        *[make_entry(DAY + timedelta(minutes=4, seconds=i), body_c=36.5 + i / 10, gate_id=("gate-1", "gate-2")[i % 2])
          for i in range(30)],
    ]
    rows = store(engine, *rows)
    overrides = store(engine,
                      Override(entry_uid=rows[0].uid, gate_id="gate-1", at=DAY + timedelta(minutes=5),
                               by_user="－guard", outcome="allowed", reason="first look"),
                      Override(entry_uid=rows[0].uid, gate_id="gate-1", at=DAY + timedelta(minutes=6), by_user="guard2",
                               outcome="remeasure", reason="＠cmd, \"again\"\r\nsecond line"),
                      Override(entry_uid=rows[4].uid, gate_id="gate-2", at=DAY + timedelta(minutes=7), by_user="guard",
                               outcome="denied", reason="-1"))
    return rows, overrides


@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("query, chunk", [("sort=oldest", 2000), ("sort=newest", 7), ("sort=hottest", 4),
                                          ("sort=coolest&gate=gate-2", 3), ("outcome=denied", 2),
                                          ("reason=mask_incorrect&sort=oldest", 1)])
@pytest.mark.slow
def test_the_export_is_what_the_csv_module_writes(app, client, auth, engine, hostile, monkeypatch, language, query,
                                                  chunk):
    rows, overrides = hostile
    original = filters.iterate_rows

    def small_chunks(session, flt, columns, **_):
        return original(session, flt, columns, chunk=chunk)

    monkeypatch.setattr("web.entries.iterate_rows", small_chunks)  # chunk boundaries inside the rows
    auth.login("manager")
    response = client.get(f"/entries.csv?from=2026-03-02&to=2026-03-02&{query}",
                          headers={"Accept-Language": language})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    got_uids = [r["uid"] for r in csv.DictReader(io.StringIO(text))]
    by_uid = {e.uid: e for e in rows}
    gate = app.extensions["checkpoint"].settings.gate  # the app's own gate is named from its configuration
    expected = reference([by_uid[u.lstrip("'")] for u in got_uids], overrides, language, {gate.id: gate.name})
    assert text == expected
    header = text.split("\r\n", 1)[0].split(",")
    assert tuple(header) == CSV_COLUMNS == (
        "id", "uid", "gate_id", "local_time", "local_date", "outcome", "final_outcome", "flagged", "reasons",
        "reason_labels", "primary_reason", "primary_reason_label", "body_c", "object_c", "ambient_c", "offset_c",
        "calibration", "sensor_id", "mask_class", "mask_confidence", "face_seen", "override_outcome",
        "override_by", "override_reason", "override_at", "gate_name")
    # the rows are the log's, in its order
    html_rows = client.get(f"/api/entries?from=2026-03-02&to=2026-03-02&{query}&limit=500").get_json()["entries"]
    assert got_uids == [e["uid"] for e in html_rows]

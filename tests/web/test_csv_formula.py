"""CSV export: no cell a spreadsheet could run as a formula, whatever the column (issue 13, Low)."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from web_helpers import make_entry, store

from checkpoint.models import Override
from web.entries import _cell

DAY = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
STARTERS = ("=", "+", "-", "@", "\t", "\r")
NUMERIC = {"id", "flagged", "body_c", "object_c", "ambient_c", "offset_c", "mask_confidence", "face_seen"}


def could_run(text: str) -> bool:
    return unicodedata.normalize("NFKC", text[:1])[:1] in STARTERS


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx",
                                  "＝HYPERLINK(\"http://x\")", "＋1", "－1", "＠SUM(A1)", "﹦1", "﹢1", "﹣1"])
def test_every_formula_starter_is_quoted(text):
    assert _cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "fever", "36.5", "gate-1", "'=already", " =1"])
def test_plain_text_is_left_alone(text):
    assert _cell(text) == text


def test_every_text_column_is_protected_and_numbers_stay_numbers(client, auth, engine):
    hostile = make_entry(DAY, gate_id="＝HYPERLINK(\"http://evil\")", outcome="denied",
                         reasons="=cmd|' /C calc'!A0,fever", primary_reason="+reason", calibration="-2+3",
                         mask_class="@SUM(1)", sensor_id="\tsensor",
                         body_c=37.9, object_c=-1.5, ambient_c=-5.0, offset_c=-0.3)
    store(engine, hostile)
    store(engine, Override(entry_uid=hostile.uid, gate_id=hostile.gate_id, at=DAY + timedelta(minutes=2),
                           by_user="－guard", outcome="allowed", reason="＠cmd"))
    auth.login("manager")
    response = client.get("/entries.csv?from=2026-03-02&to=2026-03-02")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    (row,) = [r for r in rows if r["uid"] == hostile.uid]
    runnable = {column: value for column, value in row.items() if column not in NUMERIC and could_run(value)}
    assert runnable == {}
    for column in ("gate_id", "reasons", "primary_reason", "calibration", "mask_class", "sensor_id",
                   "override_by", "override_reason"):
        assert row[column].startswith("'"), column
    assert row["gate_id"] == "'＝HYPERLINK(\"http://evil\")"
    assert (row["object_c"], row["ambient_c"], row["offset_c"], row["body_c"]) == ("-1.5", "-5", "-0.3", "37.9")
